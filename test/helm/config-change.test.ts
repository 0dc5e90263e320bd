// onConfigChange: with `reload` the pods reload a changed ConfigMap themselves and are rolled only
// when a key the gateway reads at start changes. The chart's list of those keys must be the
// gateway's own (keysNeedingRestart), or a change would be neither reloaded nor rolled.
import { expect } from 'chai';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../gateway/config/load.js';
import type { Config } from '../../gateway/config/schema.js';
import { keysNeedingRestart } from '../../gateway/pipeline.js';
import { chartDir, chartValues, isMap, readText, templatesDir, valueAt } from './chart.js';

const helpers = readText(path.join(templatesDir, '_helpers.tpl'));

/** The body of a `define` in _helpers.tpl. */
function helper(name: string): string {
  const body = new RegExp(
    `define "captcha-gateway\\.${name}" -\\}\\}\\n([\\s\\S]*?)\\{\\{- end \\}\\}\\n\\n`,
  ).exec(helpers)?.[1];
  if (body === undefined) throw new Error(`captcha-gateway.${name} is missing from _helpers.tpl`);
  return body;
}

/** A copy of `value` with every leaf changed: numbers +1, strings extended, booleans flipped. */
function changedEverywhere(value: unknown): unknown {
  if (Array.isArray(value)) return [...value.map(changedEverywhere), 'added'];
  if (isMap(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, changedEverywhere(v)]));
  }
  if (typeof value === 'number') return value + 1;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'string') return `${value}-changed`;
  return 'changed';
}

function chartConfig(): Config {
  const config = chartValues().config;
  if (!isMap(config)) throw new Error('config: is not a mapping');
  const env = { CAPTCHA_SITE_KEY: 'k', CAPTCHA_SECRET: 's', CSRF_SECRET: 'c'.repeat(32) };
  const result = parseConfig(stringify(config), env, 'values.yaml config');
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

describe('helm chart onConfigChange: reload or roll', () => {
  const startKeys = helper('startKeys').trim().split('\n');

  it('lists exactly the keys the gateway reads only at start (its keysNeedingRestart)', () => {
    const running = chartConfig();
    const next = changedEverywhere(running) as Config;
    expect(startKeys).to.deep.equal(keysNeedingRestart(running, next));
    expect(startKeys).to.include.members(['listen', 'store']);
  });

  it('names no key the gateway reloads live (each one alone needs a restart)', () => {
    const running = chartConfig();
    for (const key of startKeys) {
      const next = structuredClone(running) as unknown as Record<string, unknown>;
      const parts = key.split('.');
      const parent = parts
        .slice(0, -1)
        .reduce<unknown>((o, k) => (isMap(o) ? o[k] : undefined), next);
      if (!isMap(parent)) expect.fail(`${key}: no such section in the config`);
      const last = parts.at(-1)!;
      parent[last] = changedEverywhere(parent[last]);
      expect(keysNeedingRestart(running, next as unknown as Config), key).to.deep.equal([key]);
    }
  });

  it('checksums the values of those keys, read from config: by their dotted paths', () => {
    const body = helper('startConfig');
    expect(body).to.include(
      '{{- range $path := include "captcha-gateway.startKeys" . | splitList "\\n" }}',
    );
    expect(body).to.include('{{- $value := $.Values.config }}');
    expect(body).to.include('{{- range $key := splitList "." $path }}');
    expect(body).to.include('{{- $_ := set $found $path $value }}');
    expect(body.trim().split('\n').at(-1)).to.equal('{{- toYaml $found }}');
  });

  it('defaults to auto: reload with the memory store, roll with Redis', () => {
    const values = chartValues();
    expect(values.onConfigChange).to.equal('auto');
    expect(valueAt(values, 'config.store.type')).to.equal('memory');
    const body = helper('onConfigChange');
    expect(body).to.include('{{- if eq .Values.onConfigChange "auto" }}');
    expect(body).to.include('{{- ternary "reload" "roll" (eq $store "memory") }}');
    const schema = JSON.parse(readText(path.join(chartDir, 'values.schema.json'))) as unknown;
    expect(valueAt(schema, 'properties.onConfigChange.enum')).to.deep.equal([
      'auto',
      'reload',
      'roll',
    ]);
  });

  it('says in values.yaml which keys roll the pods under reload, the same as the helper', () => {
    const comment = readText(path.join(chartDir, 'values.yaml'))
      .split('\nonConfigChange:')[0]!
      .split('\n\n')
      .at(-1)!;
    const named = [...comment.matchAll(/`([a-z_.]+)`/g)].map((m) => m[1]);
    for (const key of startKeys) expect(named, key).to.include(key);
  });
});
