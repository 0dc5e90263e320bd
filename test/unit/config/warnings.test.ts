import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, parseConfig } from '../../../gateway/config/load.js';
import { formatWarning, MIN_SECRET_LENGTH } from '../../../gateway/config/warnings.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const UPSTREAM = 'upstream: { url: "http://127.0.0.1:8000" }\n';
const STRONG = 'x'.repeat(MIN_SECRET_LENGTH);
/** A config with nothing to warn about, plus `extra`. */
const quiet = (extra = '') =>
  `${UPSTREAM}captcha: { secret: "${STRONG}" }\ncsrf: { secret: "${STRONG}" }\n${extra}`;

function warningsOf(source: string, env: NodeJS.ProcessEnv = {}): string[] {
  const result = parseConfig(source, env);
  if (!result.ok) expect.fail(result.problems.join('\n'));
  return result.warnings.map(formatWarning);
}

describe('config warnings', () => {
  it('has none for a config with its secrets set long and nothing unused', () => {
    expect(warningsOf(quiet())).to.deep.equal([]);
  });

  it('warns about store.redis changed from its defaults while store.type is memory', () => {
    const warnings = warningsOf(quiet('store: { redis: { url: "redis://redis:6379/0" } }'));
    expect(warnings).to.deep.equal([
      'warning: store.redis: changed from its defaults, but store.type is memory: the section is ignored (set store.type: redis to share counters through Redis)',
    ]);
  });

  it('does not warn about store.redis when store.type is redis, nor when the section is absent', () => {
    expect(
      warningsOf(quiet('store: { type: redis, redis: { url: "redis://r:6379/0" } }')),
    ).to.deep.equal([]);
    expect(warningsOf(quiet('store: { type: memory }'))).to.deep.equal([]);
  });

  it('warns about an admin.token or csrf.secret under 32 characters, never showing the value', () => {
    const short = 'hunter2-is-a-bad-token';
    const source = `${UPSTREAM}captcha: { secret: "${STRONG}" }\ncsrf: { secret: "\${CSRF}" }\nadmin: { token: "${short}" }\n`;
    const result = parseConfig(source, { CSRF: 'a'.repeat(MIN_SECRET_LENGTH - 1) });
    if (!result.ok) expect.fail(result.problems.join('\n'));
    expect(result.warnings.map((w) => [w.event, w.key])).to.deep.equal([
      ['weak_secret', 'csrf.secret'],
      ['weak_secret', 'admin.token'],
    ]);
    const printed = result.warnings.map(formatWarning).join('\n');
    expect(printed).to.include('shorter than 32 characters');
    expect(printed).to.not.include(short);
    expect(printed).to.not.include('a'.repeat(MIN_SECRET_LENGTH - 1));
  });

  it('warns about a captcha.site_key the headless storefront would read cut short (\\w+)', () => {
    const site = (key: string) =>
      `${UPSTREAM}captcha: { site_key: "${key}", secret: "${STRONG}" }\ncsrf: { secret: "${STRONG}" }\n`;
    expect(warningsOf(site('6Lc-abc_DEF'))).to.deep.equal([
      'warning: captcha.site_key: holds a character other than a letter, digit or _: a headless storefront that reads the key with \\w+ gets it cut short there',
    ]);
    expect(warningsOf(site('6LcAbc_DEF123'))).to.deep.equal([]);
  });

  it('does not call an empty admin.token weak (it turns the admin API off)', () => {
    expect(warningsOf(quiet('admin: { token: "" }'))).to.deep.equal([]);
  });

  it('warns about an empty csrf.secret and captcha.secret, and about the test provider', () => {
    const source = `${UPSTREAM}captcha: { provider: test, verify_url: "http://127.0.0.1:1/v", script_url: "http://127.0.0.1:1/s.js" }\n`;
    const result = parseConfig(source, {});
    if (!result.ok) expect.fail(result.problems.join('\n'));
    expect(result.warnings.map((w) => w.event)).to.deep.equal([
      'csrf_secret_ephemeral',
      'captcha_secret_missing',
      'test_captcha_provider',
    ]);
  });

  it('finds nothing to warn about in config/default.yaml with its secrets set', () => {
    const result = loadConfigFile(path.join(root, 'config/default.yaml'), {
      CAPTCHA_SECRET: STRONG,
      CSRF_SECRET: STRONG,
      ADMIN_TOKEN: STRONG,
    });
    if (!result.ok) expect.fail(result.problems.join('\n'));
    expect(result.warnings).to.deep.equal([]);
  });
});
