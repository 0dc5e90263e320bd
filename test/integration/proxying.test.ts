import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { patternChunk, patternSha256, startUpstream, type Upstream } from '../helpers/upstream.js';

const MB = 1024 * 1024;

describe('proxying through a real gateway', () => {
  let upstream: Upstream;
  let gw: RunningGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway(`
upstream: { url: "${upstream.url}", timeout: 500ms }
throttle: { limit: 1000, rules: [] }
listen: { host: 127.0.0.1, port: 0, drain_timeout: 1s }
`);
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  it('forwards method, path, query, headers and body untouched, and appends X-Forwarded-For', async () => {
    const res = await fetch(gw.url + '/api/orders/?a=1&b=%20x', {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        'x-custom': 'kept',
        'x-forwarded-for': '198.51.100.7',
      },
      body: '{"n":1}',
    });
    expect(res.status).to.equal(200);
    const seen = await upstream.waitForRequest((r) => r.url.startsWith('/api/orders/'));
    expect(seen.method).to.equal('PUT');
    expect(seen.url).to.equal('/api/orders/?a=1&b=%20x');
    expect(seen.headers['x-custom']).to.equal('kept');
    expect(seen.headers['x-forwarded-for']).to.equal('198.51.100.7, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).to.equal('http');
    expect(seen.bodySha256).to.equal(createHash('sha256').update('{"n":1}').digest('hex'));
  });

  it('streams a 64 MB upload and a 64 MB download without holding them in memory', async function () {
    // 128 MB through three servers in one process: seconds on an idle machine, more on a busy one.
    this.timeout(60_000);
    const size = 64 * MB;
    const heapBefore = process.memoryUsage().heapUsed;
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= size) return this.push(null);
        const n = Math.min(64 * 1024, size - sent);
        this.push(patternChunk(sent, n));
        sent += n;
      },
    });
    const up = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        gw.url + '/upload/',
        { method: 'POST', headers: { 'content-type': 'application/octet-stream' } },
        resolve,
      );
      req.on('error', reject);
      body.pipe(req);
    });
    up.resume();
    await once(up, 'end');
    const recorded = await upstream.waitForRequest((r) => r.url === '/upload/');
    await recorded.bodyEnded;
    expect(recorded.bodyBytes).to.equal(size);
    expect(recorded.bodySha256).to.equal(patternSha256(size));

    const down = await fetch(gw.url + `/stream?bytes=${size}`);
    const hash = createHash('sha256');
    let received = 0;
    for await (const chunk of down.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      received += chunk.length;
    }
    expect(received).to.equal(size);
    expect(hash.digest('hex')).to.equal(patternSha256(size));
    // Loose: streaming keeps the heap far below the 128 MB that crossed it.
    expect(process.memoryUsage().heapUsed - heapBefore).to.be.below(48 * MB);
  });

  it('answers 504 when the upstream sends no headers within upstream.timeout', async () => {
    const res = await fetch(gw.url + '/slow');
    expect(res.status).to.equal(504);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const body = await res.text();
    expect(body).to.not.match(/127\.0\.0\.1|ECONN|at \w+ \(/);
  });

  it('aborts the upstream request when the client hangs up', async () => {
    const req = http.get(gw.url + '/slow?abort=1');
    req.on('error', () => {});
    const seen = await upstream.waitForRequest((r) => r.url === '/slow?abort=1');
    req.destroy();
    expect(await seen.closed).to.deep.equal({ completed: false });
  });

  it('proxies a WebSocket upgrade and echoes bytes both ways', async () => {
    const req = http.request(gw.url + '/ws/', {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.end();
    const [res, socket] = (await once(req, 'upgrade')) as [
      http.IncomingMessage,
      import('node:net').Socket,
    ];
    expect(res.statusCode).to.equal(101);
    socket.write('ping-123');
    const [echo] = (await once(socket, 'data')) as [Buffer];
    expect(echo.toString()).to.equal('ping-123');
    socket.destroy();
  });
});

describe('upstream faults through a real gateway', () => {
  it('answers 502 without internal detail when the upstream refuses connections', async () => {
    const gw: RunningGateway = await startGateway('upstream: { url: "http://127.0.0.1:9" }');
    try {
      const res = await fetch(gw.url + '/api/');
      expect(res.status).to.equal(502);
      expect(res.headers.get('content-type')).to.equal('application/json');
      const text = await res.text();
      expect(text).to.not.match(/127\.0\.0\.1|:9\b|ECONNREFUSED/);
      // And the gateway keeps serving.
      expect((await fetch(gw.adminUrl + '/healthz')).status).to.equal(200);
    } finally {
      await gw.stop();
    }
  });

  it('throttles WebSocket upgrades like any request', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway(
      `upstream: { url: "${upstream.url}" }\nthrottle: { limit: 1, rules: [] }`,
    );
    try {
      const upgrade = async () => {
        const req = http.request(gw.url + '/ws/', {
          headers: { connection: 'Upgrade', upgrade: 'websocket' },
        });
        req.end();
        const [event, a, b] = await Promise.race([
          once(req, 'upgrade').then((args) => ['upgrade', ...args] as const),
          once(req, 'response').then((args) => ['response', ...args, undefined] as const),
        ]);
        if (event === 'upgrade') (b as import('node:net').Socket).destroy();
        return (a as http.IncomingMessage).statusCode;
      };
      expect(await upgrade()).to.equal(101);
      expect(await upgrade()).to.equal(429);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});
