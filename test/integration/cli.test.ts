import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs the command to its end, with the given environment only (no inherited secrets). */
async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, out, err };
}

function configFile(name: string, content: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'cgw-cli-')), name);
  writeFileSync(file, content);
  return file;
}

describe('the captcha-gateway command line', function () {
  // Each test starts node with tsx: seconds on a loaded machine.
  this.timeout(60_000);

  it('--help and -h print the options, the environment and the exit codes, and exit 0', async () => {
    const [long, short] = await Promise.all([run(['--help']), run(['--check', '-h'])]);
    for (const result of [long, short]) {
      expect(result.code).to.equal(0);
      expect(result.err).to.equal('');
      for (const text of ['usage: captcha-gateway', '--config FILE', '--check', 'GATEWAY_CONFIG'])
        expect(result.out).to.include(text);
      expect(result.out).to.match(/exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 /);
    }
    expect(short.out).to.equal(long.out);
  });

  it('exits 2 with the usage line on an unknown argument or a --config without a file', async () => {
    const [unknown, missing] = await Promise.all([run(['--chek']), run(['--config'])]);
    expect(unknown.code).to.equal(2);
    expect(unknown.err).to.include('unknown argument "--chek"\nusage: captcha-gateway');
    expect(missing.code).to.equal(2);
    expect(missing.err).to.include('--config needs a file');
    expect(unknown.out + missing.out).to.equal('');
  });

  it('--check prints "config OK" then one "warning:" line per warning, and exits 0', async () => {
    const file = configFile(
      'warned.yaml',
      [
        'upstream: { url: "http://127.0.0.1:8000" }',
        'admin: { token: "${ADMIN_TOKEN}" }',
        'captcha: { secret: "${CAPTCHA_SECRET}" }',
        'csrf: { secret: "${CSRF_SECRET}" }',
        'store: { type: memory, redis: { url: "redis://redis:6379/0" } }',
        '',
      ].join('\n'),
    );
    const result = await run(['--config', file, '--check'], {
      ADMIN_TOKEN: 'short-token',
      CAPTCHA_SECRET: 'x'.repeat(40),
      CSRF_SECRET: 'y'.repeat(40),
    });
    expect(result.code).to.equal(0);
    expect(result.out).to.equal(
      [
        'config OK',
        'warning: admin.token: shorter than 32 characters: use a long random value (openssl rand -hex 32)',
        'warning: store.redis: changed from its defaults, but store.type is memory: the section is ignored (set store.type: redis to share counters through Redis)',
        '',
      ].join('\n'),
    );
    expect(result.out + result.err).to.not.include('short-token');
  });

  it('--check names the file, line and column of a YAML syntax error, and exits 1', async () => {
    const file = configFile('broken.yaml', 'upstream:\n  url: "http://127.0.0.1:8000"\n\tlog: x\n');
    const result = await run(['--config', file, '--check']);
    expect(result.code).to.equal(1);
    expect(result.err).to.equal(
      `${file}: the config has problems:\n  ${file}:3:1: Tabs are not allowed as indentation (not valid YAML)\n`,
    );
  });

  it('logs each warning at start with its event and key, before it listens', async () => {
    const file = configFile(
      'weak.yaml',
      'upstream: { url: "http://127.0.0.1:9" }\nlisten: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0, token: "${ADMIN_TOKEN}" }\n',
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'gateway/main.ts', '--config', file],
      {
        cwd: root,
        env: { PATH: process.env.PATH, ADMIN_TOKEN: 'short-token' },
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = once(child, 'exit');
    while (!out.includes('"event":"listening"')) await once(child.stdout, 'data');
    child.kill('SIGTERM');
    expect((await exited)[0]).to.equal(0);
    const lines = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; key?: string; msg?: string });
    const listening = lines.findIndex((l) => l.event === 'listening');
    const weak = lines.findIndex((l) => l.event === 'weak_secret');
    expect(weak).to.be.within(0, listening);
    expect(lines[weak]).to.include({ key: 'admin.token', level: 40 });
    expect(lines[weak]!.msg).to.match(/^admin\.token: shorter than 32 characters/);
    expect(lines.map((l) => l.event)).to.include.members([
      'csrf_secret_ephemeral',
      'captcha_secret_missing',
    ]);
    expect(out).to.not.include('short-token');
  });
});
