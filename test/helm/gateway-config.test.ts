// The chart's `config:` is a gateway config: the gateway's own validation (the same code the
// check-config init container runs) accepts the default and every ci/ values file, and every
// ${NAME} it needs is one the chart can set.
import { expect } from 'chai';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../gateway/config/load.js';
import {
  chartDir,
  chartValues,
  isMap,
  readText,
  valueAt,
  valuesWith,
  yamlFiles,
  type Values,
} from './chart.js';

/** Variable -> `secret.<key>` of the chart's Secret (or an existingSecret), from _helpers.tpl. */
function secretKeys(): Map<string, string> {
  const helpers = readText(path.join(chartDir, 'templates/_helpers.tpl'));
  const block = /define "captcha-gateway\.secretKeys" -\}\}\n([\s\S]*?)\{\{- end/.exec(helpers);
  if (!block?.[1]) throw new Error('captcha-gateway.secretKeys is missing from _helpers.tpl');
  const parsed: unknown = parse(block[1]);
  if (!isMap(parsed)) throw new Error('captcha-gateway.secretKeys is not a mapping');
  return new Map(Object.entries(parsed).map(([env, key]) => [env, String(key)]));
}

/** ${NAME} references without a default, and all referenced names. */
function references(configYaml: string): { required: string[]; all: string[] } {
  const all = [...configYaml.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)];
  return {
    required: [...new Set(all.filter((m) => m[2] === undefined).map((m) => m[1]!))],
    all: [...new Set(all.map((m) => m[1]!))],
  };
}

function renderedConfig(values: Values): string {
  if (!isMap(values.config)) throw new Error('config: is not a mapping');
  // What the ConfigMap holds: `toYaml .Values.config`.
  return stringify(values.config);
}

function fakeEnv(names: readonly string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(names.map((name) => [name, `fake-${name.toLowerCase()}`]));
}

describe('helm chart config: passes the gateway validation', () => {
  const keys = secretKeys();
  const secretNames = [...keys.keys()];

  it('knows the Secret variables from _helpers.tpl', () => {
    expect(secretNames).to.include.members(['CAPTCHA_SITE_KEY', 'CAPTCHA_SECRET', 'CSRF_SECRET']);
  });

  it('accepts the default config with the secrets set', () => {
    const source = renderedConfig(chartValues());
    const result = parseConfig(source, fakeEnv(references(source).all), 'values.yaml config');
    if (!result.ok) expect.fail(result.problems.join('\n'));
    expect(result.config.store.type).to.equal('memory');
    expect(result.config.listen.port).to.equal(8080);
    expect(result.config.admin.port).to.equal(9090);
  });

  it('refuses the default config when a required secret is not set (what check-config reports)', () => {
    const source = renderedConfig(chartValues());
    const result = parseConfig(source, { CAPTCHA_SITE_KEY: 'k' }, 'values.yaml config');
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.problems.join('\n')).to.match(
      /captcha\.secret: environment variable CAPTCHA_SECRET/,
    );
    expect(result.problems.join('\n')).to.match(/csrf\.secret: environment variable CSRF_SECRET/);
  });

  it('binds the admin port to every interface, explicitly (probes and Prometheus come from outside the pod)', () => {
    // Set in values.yaml, not left to the gateway's default: that one is loopback for `npm start`.
    expect(valueAt(chartValues(), 'config.admin.host')).to.equal('0.0.0.0');
    for (const file of yamlFiles(path.join(chartDir, 'ci'))) {
      const source = renderedConfig(valuesWith(file));
      const result = parseConfig(source, fakeEnv(references(source).all), path.basename(file));
      if (!result.ok) expect.fail(result.problems.join('\n'));
      expect(result.config.admin.host, path.basename(file)).to.equal('0.0.0.0');
    }
    const helpers = readText(path.join(chartDir, 'templates/_helpers.tpl'));
    expect(helpers).to.include(
      '{{- if or (hasPrefix "127." $adminHost) (eq $adminHost "::1" "localhost") }}\n{{- fail',
    );
  });

  it('references only secrets the chart can set', () => {
    const { all } = references(renderedConfig(chartValues()));
    expect(all.filter((name) => !secretNames.includes(name))).to.deep.equal([]);
  });

  for (const file of yamlFiles(path.join(chartDir, 'ci'))) {
    it(`accepts the config of values.yaml with ci/${path.basename(file)}`, () => {
      const values = valuesWith(file);
      const source = renderedConfig(values);
      const result = parseConfig(source, fakeEnv(references(source).all), path.basename(file));
      if (!result.ok) expect.fail(result.problems.join('\n'));
    });

    it(`sets every required variable of ci/${path.basename(file)} from the Secret or extraEnv`, () => {
      const values = valuesWith(file);
      const secret = isMap(values.secret) ? values.secret : {};
      const extraEnv = Array.isArray(values.extraEnv) ? values.extraEnv : [];
      const provided = new Set<string>(
        extraEnv.flatMap((e: unknown) => (isMap(e) && typeof e.name === 'string' ? [e.name] : [])),
      );
      if (secret.existingSecret) secretNames.forEach((name) => provided.add(name));
      const { required } = references(renderedConfig(values));
      for (const [name, key] of keys) if (secret[key]) provided.add(name);
      expect(required.filter((name) => !provided.has(name))).to.deep.equal([]);
    });
  }
});
