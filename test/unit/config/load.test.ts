import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, parseConfig } from '../../../gateway/config/load.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const corpus = path.join(root, 'test/fixtures/bad-configs');

describe('config loading', () => {
  it('accepts config/default.yaml with every documented default', () => {
    const result = loadConfigFile(path.join(root, 'config/default.yaml'), {});
    if (!result.ok) expect.fail(result.problems.join('\n'));
    const { config } = result;
    expect(config.upstream.url).to.equal('http://127.0.0.1:8000');
    expect(config.admin.host, 'metrics never on every interface by default').to.equal('127.0.0.1');
    expect(config.throttle).to.include({ limit: 300, window: 60_000, block: 900_000 });
    expect(config.captcha.max_body).to.equal(16 * 1024);
    expect(config.throttle.rules[0]).to.deep.include({ name: 'login', limit: 10, window: 60_000 });
  });

  it('gives the same config from an empty file plus upstream.url as from default.yaml', () => {
    const minimal = parseConfig('upstream: { url: "http://127.0.0.1:8000" }', {});
    const full = loadConfigFile(path.join(root, 'config/default.yaml'), {});
    if (!minimal.ok || !full.ok) expect.fail('both must load');
    expect(minimal.config).to.deep.equal(full.config);
  });

  it('returns a deeply frozen object', () => {
    const result = parseConfig('upstream: { url: "http://127.0.0.1:8000" }', {});
    if (!result.ok) expect.fail(result.problems.join('\n'));
    expect(Object.isFrozen(result.config.throttle.rules[0])).to.equal(true);
    expect(() => {
      (result.config.throttle as { limit: number }).limit = 1;
    }).to.throw(TypeError);
  });

  it('replaces ${NAME} and ${NAME:-default} from the environment', () => {
    const source = `
upstream: { url: "\${UP}" }
captcha: { secret: "\${SECRET}", site_key: "\${KEY:-fallback-key}" }
listen: { port: "\${PORT:-8081}" }`;
    const result = parseConfig(source, { UP: 'http://10.1.2.3:9000', SECRET: 's3cret' });
    if (!result.ok) expect.fail(result.problems.join('\n'));
    expect(result.config.upstream.url).to.equal('http://10.1.2.3:9000');
    expect(result.config.captcha.secret).to.equal('s3cret');
    expect(result.config.captcha.site_key).to.equal('fallback-key');
    expect(result.config.listen.port).to.equal(8081);
  });

  it('reads durations in ms, s, m, h and plain seconds', () => {
    const source = `
upstream: { url: "http://127.0.0.1:8000", timeout: 250ms, connect_timeout: 2 }
throttle: { window: 15m, block: 1h }`;
    const result = parseConfig(source, {});
    if (!result.ok) expect.fail(result.problems.join('\n'));
    expect(result.config.upstream.timeout).to.equal(250);
    expect(result.config.upstream.connect_timeout).to.equal(2000);
    expect(result.config.throttle.window).to.equal(900_000);
    expect(result.config.throttle.block).to.equal(3_600_000);
  });

  it('reports a file that cannot be read with its path and the reason', () => {
    const result = loadConfigFile('/nonexistent/gateway.yaml', {});
    expect(result).to.deep.equal({
      ok: false,
      problems: ['/nonexistent/gateway.yaml: cannot be read (ENOENT)'],
    });
  });

  describe('the corpus of bad configs', () => {
    for (const file of readdirSync(corpus).filter((f) => f.endsWith('.yaml'))) {
      const source = readFileSync(path.join(corpus, file), 'utf8');
      const expected = [...source.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!);
      const forbidden = [...source.matchAll(/^# expect-not: (.*)$/gm)].map((m) => m[1]!);
      it(`rejects ${file} with: ${expected.join(' | ')}`, () => {
        const result = parseConfig(source, {}, file);
        if (result.ok) expect.fail('the config was accepted');
        for (const line of expected) {
          expect(result.problems.some((p) => p.includes(line))).to.equal(
            true,
            `missing "${line}" in:\n${result.problems.join('\n')}`,
          );
        }
        for (const text of forbidden) expect(result.problems.join('\n')).to.not.include(text);
      });
    }
  });
});
