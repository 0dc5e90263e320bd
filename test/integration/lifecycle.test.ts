import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startGateway } from '../helpers/gateway.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** An upstream that holds each response until the test releases it. */
async function holdingUpstream() {
  const held: http.ServerResponse[] = [];
  const arrived = new EventTarget();
  const server = http.createServer((_req, res) => {
    held.push(res);
    arrived.dispatchEvent(new Event('request'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    nextRequest: () => once(arrived, 'request'),
    releaseAll: () => held.splice(0).forEach((res) => res.end('done')),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function request(
  url: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('graceful drain', () => {
  it('turns not-ready, refuses new connections, finishes in-flight requests with Connection: close', async () => {
    const upstream = await holdingUpstream();
    const gw = await startGateway(`upstream: { url: "${upstream.url}" }`);
    try {
      const arrived = upstream.nextRequest();
      const inFlight = request(gw.url + '/slow-page/');
      await arrived;

      const stopped = gw.gateway.shutdown();
      expect((await fetch(gw.adminUrl + '/readyz')).status).to.equal(503);
      const refused = await fetch(gw.url + '/').then(
        () => 'connected',
        (error: Error) => (error.cause as NodeJS.ErrnoException).code,
      );
      expect(refused).to.equal('ECONNREFUSED');

      upstream.releaseAll();
      const answer = await inFlight;
      expect(answer.status).to.equal(200);
      expect(answer.body).to.equal('done');
      expect(answer.headers.connection).to.equal('close');
      await stopped;
    } finally {
      await upstream.close();
    }
  });

  it('cuts requests still running after listen.drain_timeout', async () => {
    const upstream = await holdingUpstream();
    const gw = await startGateway(
      `upstream: { url: "${upstream.url}" }\nlisten: { host: 127.0.0.1, port: 0, drain_timeout: 200ms }`,
    );
    try {
      const arrived = upstream.nextRequest();
      const inFlight = request(gw.url + '/never/').catch((error: Error) => error);
      await arrived;
      await gw.gateway.shutdown();
      expect(await inFlight).to.be.instanceOf(Error);
    } finally {
      await upstream.close();
    }
  });
});

describe('the captcha-gateway command', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = once(child, 'exit').then(([code]) => code as number);
    return { child, exited, out: () => stdout, err: () => stderr };
  };

  it('--check prints "config OK" for config/default.yaml and exits 0', async () => {
    // With its secrets set long enough, the file has nothing to warn about.
    const secret = 'x'.repeat(32);
    const p = run(['--config', 'config/default.yaml', '--check'], {
      CAPTCHA_SECRET: secret,
      CSRF_SECRET: secret,
      ADMIN_TOKEN: secret,
    });
    expect(await p.exited).to.equal(0);
    expect(p.out()).to.equal('config OK\n');
  });

  it('--check lists every problem and exits 1', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cgw-')), 'bad.yaml');
    writeFileSync(file, 'throttle: { window: soon, limt: 1 }\n');
    const p = run(['--config', file, '--check']);
    expect(await p.exited).to.equal(1);
    expect(p.err()).to.include('throttle.window: "soon" is not a duration');
    expect(p.err()).to.include('throttle.limt: unknown key');
    expect(p.err()).to.include('upstream.url: is required');
  });

  it('exits 1 before listening when the config is bad, also via GATEWAY_CONFIG', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cgw-')), 'bad.yaml');
    writeFileSync(file, 'upstream: { url: nowhere }\nlisten: { port: 0 }\n');
    const p = run([], { GATEWAY_CONFIG: file });
    expect(await p.exited).to.equal(1);
    expect(p.err()).to.include('upstream.url: "nowhere" is not an http(s) URL');
    expect(p.out()).to.not.include('listening');
  });

  it('serves, then drains and exits 0 on SIGTERM', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cgw-')), 'ok.yaml');
    writeFileSync(
      file,
      'upstream: { url: "http://127.0.0.1:9" }\nlisten: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n',
    );
    const p = run(['--config', file]);
    while (!p.out().includes('"event":"listening"')) await once(p.child.stdout, 'data');
    const listening = JSON.parse(
      p
        .out()
        .split('\n')
        .find((l) => l.includes('"listening"'))!,
    ) as {
      port: number;
      admin_port: number;
    };
    expect((await fetch(`http://127.0.0.1:${listening.admin_port}/healthz`)).status).to.equal(200);
    p.child.kill('SIGTERM');
    expect(await p.exited).to.equal(0);
    expect(p.out()).to.include('"event":"stopped"');
  });
});
