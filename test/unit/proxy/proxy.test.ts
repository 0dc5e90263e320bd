// Checks the upstream proxy end to end on real sockets: what the upstream receives, what the client
// gets back, streaming, every upstream fault, client hang-ups and WebSocket tunnels.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { UpstreamProxy } from '../../../gateway/proxy/proxy.js';
import { call, startGateway, type Gateway, type Reply } from './harness.js';
import {
  patternSha256,
  startStalledListener,
  startUpstream,
  writePattern,
  type RecordedRequest,
  type Upstream,
} from '../../helpers/upstream.js';

const MB = 1024 * 1024;
// Client, gateway and upstream share this process, so streaming 50 MB leaves some 30 MB of chunks
// for the collector at the peak, more when the collector runs late on a busy machine; a proxy
// holding the body whole measured over 120 MB. The backpressure test is the firmer proof.
const LOOSE_LIMIT = 80 * MB;

/** The default upstream route echoes what it received. */
function echoed(reply: Reply): RecordedRequest {
  return JSON.parse(reply.body.toString()) as RecordedRequest;
}

/** A port that refuses connections: bound once, then released. */
async function refusedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Reads from a raw socket until `done` says the text so far is enough (or the socket ends). */
function readUntil(socket: net.Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = () => {
      socket.off('data', onData);
      socket.off('close', finish);
      socket.pause();
      resolve(text);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) finish();
    };
    socket.on('data', onData);
    socket.on('close', finish);
    socket.resume();
  });
}

/** Resolves with the 'close' of a socket, or of the response and request of a client call. */
function closed(emitter: NodeJS.EventEmitter): Promise<unknown> {
  return once(emitter, 'close');
}

/** JS heap plus Buffer memory of this process, which runs gateway, upstream and client alike. */
function memoryInUse(): number {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** Samples memory while `work` runs; returns the peak growth over the level before it. */
async function peakGrowth(work: () => Promise<void>): Promise<number> {
  const before = memoryInUse();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, memoryInUse())), 5);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, memoryInUse()) - before;
}

describe('createUpstreamProxy', function () {
  this.timeout(20_000);

  let upstream: Upstream;
  let gw: Gateway;

  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    upstream.requests.length = 0;
    gw = await startGateway(upstream.url);
  });
  afterEach(async () => {
    await gw.close();
  });

  describe('the request the upstream receives', () => {
    it('passes method, path, query and body through untouched', async () => {
      const path = "/a//b/../c\\d/%2F'e?x=1&x=2&y=a%20b&z=/p//q";
      const reply = await call(gw.port, { method: 'PATCH', path, body: 'hello upstream' });
      const seen = echoed(reply);
      expect(reply.status).to.equal(200);
      expect(seen.method).to.equal('PATCH');
      expect(seen.url).to.equal(path);
      expect(seen.bodyBytes).to.equal(14);
      expect(seen.bodySha256).to.equal(sha256('hello upstream'));
    });

    it('passes a path holding http:/ untouched, which a URL join would rewrite', async () => {
      const path = '/go/http:/shop//x?u=https:/y';
      expect(echoed(await call(gw.port, { path })).url).to.equal(path);
    });

    it("sends the client's header lines in their case and order, repeated fields kept", async () => {
      const reply = await call(gw.port, {
        headers: { 'X-First': '1', 'X-Multi': ['a', 'b'], 'x-last': '2' },
      });
      const raw = await upstream.waitForRequest((r) => r.headers['x-last'] === '2');
      const names = raw.rawHeaders.filter((_, i) => i % 2 === 0);
      const custom = names.filter(
        (name) => name.toLowerCase().startsWith('x-') && !name.startsWith('x-forwarded'),
      );
      expect(custom).to.deep.equal(['X-First', 'X-Multi', 'X-Multi', 'x-last']);
      expect(echoed(reply).headers['x-multi']).to.equal('a, b');
    });

    it('frames a POST that came without a body as Content-Length: 0', async () => {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.write('POST /empty HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n');
      const answer = await readUntil(socket, () => false);
      expect(answer).to.match(/^HTTP\/1\.1 200/);
      const seen = await upstream.waitForRequest((r) => r.url === '/empty');
      expect(seen.headers['content-length']).to.equal('0');
      expect(seen.headers).not.to.have.property('transfer-encoding');
    });

    it('sends the request id upstream in place of the client one, and echoes it back', async () => {
      const identified = await startGateway(upstream.url, {
        handle: (proxy, req, res) => proxy.web(req, res, 'req-42'),
      });
      try {
        const reply = await call(identified.port, { headers: { 'x-request-id': 'spoofed' } });
        expect(echoed(reply).headers['x-request-id']).to.equal('req-42');
        expect(reply.headers['x-request-id']).to.equal('req-42');
      } finally {
        await identified.close();
      }
    });

    it("keeps the upstream's own X-Request-Id on its answer", async () => {
      const own = http.createServer((_req, res) => {
        res.setHeader('X-Request-Id', 'upstream-7');
        res.end('x');
      });
      own.listen(0, '127.0.0.1');
      await once(own, 'listening');
      const { port } = own.address() as net.AddressInfo;
      const identified = await startGateway(`http://127.0.0.1:${port}`, {
        handle: (proxy, req, res) => proxy.web(req, res, 'req-43'),
      });
      try {
        const reply = await call(identified.port);
        expect(reply.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id')).to.have.length(
          1,
        );
        expect(reply.headers['x-request-id']).to.equal('upstream-7');
      } finally {
        await identified.close();
        own.closeAllConnections();
        own.close();
      }
    });

    it('puts the path of upstream.url before the request path', async () => {
      const based = await startGateway(`${upstream.url}/base/`);
      try {
        expect(echoed(await call(based.port, { path: '/x//y?q=1' })).url).to.equal(
          '/base/x//y?q=1',
        );
      } finally {
        await based.close();
      }
    });

    it('keeps the client Host, or writes the upstream host with change_origin', async () => {
      const headers = { host: 'shop.example' };
      expect(echoed(await call(gw.port, { headers })).headers.host).to.equal('shop.example');
      const changing = await startGateway(upstream.url, { upstream: { change_origin: true } });
      try {
        const seen = echoed(await call(changing.port, { headers }));
        expect(seen.headers.host).to.equal(`127.0.0.1:${upstream.port}`);
        expect(seen.headers['x-forwarded-host']).to.equal('shop.example');
      } finally {
        await changing.close();
      }
    });

    it('appends the peer address to X-Forwarded-For', async () => {
      const headers = { 'x-forwarded-for': '203.0.113.7, 10.0.0.2' };
      const seen = echoed(await call(gw.port, { headers }));
      expect(seen.headers['x-forwarded-for']).to.equal('203.0.113.7, 10.0.0.2, 127.0.0.1');
      expect(echoed(await call(gw.port)).headers['x-forwarded-for']).to.equal('127.0.0.1');
    });

    it('replaces X-Forwarded-Proto and X-Forwarded-Host sent by an untrusted peer', async () => {
      const untrusting = await startGateway(upstream.url, { trusted: [] });
      try {
        const headers = {
          host: 'shop.example:8080',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil.example',
        };
        const seen = echoed(await call(untrusting.port, { headers }));
        expect(seen.headers['x-forwarded-proto']).to.equal('http');
        expect(seen.headers['x-forwarded-host']).to.equal('shop.example:8080');
      } finally {
        await untrusting.close();
      }
    });

    it('keeps X-Forwarded-Proto and X-Forwarded-Host sent by a trusted proxy', async () => {
      const headers = {
        host: 'internal:8080',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'shop.example',
      };
      const seen = echoed(await call(gw.port, { headers }));
      expect(seen.headers['x-forwarded-proto']).to.equal('https');
      expect(seen.headers['x-forwarded-host']).to.equal('shop.example');
    });

    it('sets X-Forwarded-Proto and X-Forwarded-Host when a trusted proxy sent none', async () => {
      const seen = echoed(await call(gw.port, { headers: { host: 'shop.example' } }));
      expect(seen.headers['x-forwarded-proto']).to.equal('http');
      expect(seen.headers['x-forwarded-host']).to.equal('shop.example');
    });
  });

  describe('hop-by-hop headers', () => {
    it('drops hop-by-hop request headers and every header the client names in Connection', async () => {
      // Raw, because Node's client will not send a Trailer header on a body-less request.
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.write(
        'GET /raw HTTP/1.1\r\nHost: gw\r\nConnection: close, X-Secret, x-other\r\n' +
          'X-Secret: client-only\r\nX-Other: client-only\r\nKeep-Alive: timeout=99\r\n' +
          'Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic c2VjcmV0\r\nTE: trailers\r\n' +
          'Trailer: x-checksum\r\nUpgrade: h2c\r\nX-End-To-End: kept\r\n\r\n',
      );
      expect(await readUntil(socket, () => false)).to.match(/^HTTP\/1\.1 200 /);
      const seen = await upstream.waitForRequest((r) => r.url === '/raw');
      for (const name of [
        'x-secret',
        'x-other',
        'keep-alive',
        'proxy-connection',
        'proxy-authorization',
        'te',
        'trailer',
        'upgrade',
      ]) {
        expect(seen.headers, name).not.to.have.property(name);
      }
      // Node writes its own Connection for the pooled upstream connection.
      expect(seen.headers.connection).to.equal('keep-alive');
      expect(seen.headers['x-end-to-end']).to.equal('kept');
    });

    it('drops hop-by-hop response headers and those the upstream names in Connection, keeping both Set-Cookie', async () => {
      const reply = await call(gw.port, { path: '/hop' });
      expect(reply.status).to.equal(200);
      for (const name of ['x-secret', 'proxy-authenticate', 'trailer', 'upgrade']) {
        expect(reply.headers, name).not.to.have.property(name);
      }
      // Connection and Keep-Alive the client sees are the gateway's own, not the upstream's.
      expect(reply.headers.connection).to.equal('close');
      expect(reply.headers['keep-alive']).to.equal(undefined);
      expect(reply.headers['set-cookie']).to.deep.equal([
        'first=1; Path=/; HttpOnly',
        'second=2; Path=/; Secure',
      ]);
      expect(reply.headers['x-end-to-end']).to.equal('kept');
      expect(echoed(reply).url).to.equal('/hop');
    });
  });

  describe('body framing (request smuggling)', () => {
    it('frames a chunked DELETE body again instead of writing it raw into the pooled connection', async () => {
      const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: upstream\r\n\r\n';
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.write(
        'DELETE /items/1 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n' +
          `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
      );
      const text = await readUntil(socket, () => false);
      expect(text).to.match(/^HTTP\/1\.1 200 /);
      // A follow-up on the same pooled upstream connection shows whether anything was smuggled.
      await call(gw.port, { path: '/after' });
      expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).to.deep.equal([
        'DELETE /items/1',
        'GET /after',
      ]);
      expect(upstream.requests[0]!.bodyBytes).to.equal(smuggled.length);
      expect(upstream.requests[0]!.headers['transfer-encoding']).to.equal('chunked');
    });

    it("leaves the client's request headers as they came", async () => {
      const after: http.IncomingHttpHeaders[] = [];
      const observing = await startGateway(upstream.url, {
        handle: (proxy, req, res) => {
          res.once('close', () => after.push({ ...req.headers }));
          proxy.web(req, res);
        },
      });
      try {
        await call(observing.port, {
          method: 'DELETE',
          path: '/items/2',
          headers: {
            'x-forwarded-for': '203.0.113.7',
            connection: 'close, x-secret',
            'x-secret': '1',
          },
        });
        expect(after).to.have.length(1);
        expect(after[0]).not.to.have.property('content-length');
        expect(after[0]!['x-forwarded-for']).to.equal('203.0.113.7');
        expect(after[0]!['x-secret']).to.equal('1');
      } finally {
        await observing.close();
      }
    });

    it('keeps Content-Length when the client names it in Connection', async () => {
      const body = 'GET /smuggled HTTP/1.1\r\nHost: upstream\r\n\r\n';
      const reply = await call(gw.port, {
        method: 'GET',
        path: '/with-body',
        headers: { connection: 'content-length', 'content-length': body.length },
        body,
      });
      expect(echoed(reply).bodyBytes).to.equal(body.length);
      await call(gw.port, { path: '/after' });
      expect(upstream.requests.map((r) => r.url)).to.deep.equal(['/with-body', '/after']);
    });

    it('writes its headers on a request that waits for a pooled socket (no crash)', async () => {
      const single = await startGateway(upstream.url, { upstream: { max_sockets: 1 } });
      try {
        const holding = call(single.port, { path: '/delay?ms=100' });
        await upstream.waitForRequest((r) => r.url.startsWith('/delay'));
        // Queued behind the held socket; its body is written before it gets one.
        const queued = await call(single.port, {
          method: 'POST',
          path: '/queued',
          headers: { 'x-forwarded-for': '203.0.113.7' },
          body: 'queued body',
        });
        expect((await holding).status).to.equal(200);
        const seen = echoed(queued);
        expect(seen.headers['x-forwarded-for']).to.equal('203.0.113.7, 127.0.0.1');
        expect(seen.bodyBytes).to.equal(11);
      } finally {
        await single.close();
      }
    });

    it('writes its headers on an Expect: 100-continue request', async () => {
      const req = http.request({
        host: '127.0.0.1',
        port: gw.port,
        method: 'POST',
        path: '/expect',
        agent: false,
        headers: {
          expect: '100-continue',
          connection: 'x-secret',
          'x-secret': 'client-only',
          'x-forwarded-for': '203.0.113.7',
        },
      });
      req.on('continue', () => req.end('after continue'));
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.resume();
      await once(res, 'end');
      const seen = await upstream.waitForRequest((r) => r.url === '/expect');
      await seen.bodyEnded;
      expect(seen.headers['x-forwarded-for']).to.equal('203.0.113.7, 127.0.0.1');
      expect(seen.headers).not.to.have.property('x-secret');
      expect(seen.bodyBytes).to.equal(14);
    });
  });

  describe('streaming', () => {
    it('streams a 50 MB upload through without holding it in memory', async () => {
      const bytes = 50 * MB;
      let status = 0;
      const growth = await peakGrowth(async () => {
        const req = http.request({
          host: '127.0.0.1',
          port: gw.port,
          method: 'POST',
          path: '/upload',
          agent: false,
        });
        const answered = once(req, 'response') as Promise<[http.IncomingMessage]>;
        await writePattern(req, bytes);
        req.end();
        const [res] = await answered;
        status = res.statusCode ?? 0;
        res.resume();
        await once(res, 'end');
      });
      expect(status).to.equal(200);
      const seen = await upstream.waitForRequest((r) => r.url === '/upload');
      expect(seen.bodyBytes).to.equal(bytes);
      expect(seen.bodySha256).to.equal(patternSha256(bytes));
      expect(growth, `peak memory growth ${Math.round(growth / MB)} MB`).to.be.below(LOOSE_LIMIT);
    });

    it('streams a 50 MB download through without holding it in memory', async () => {
      const bytes = 50 * MB;
      const hash = createHash('sha256');
      let received = 0;
      const growth = await peakGrowth(async () => {
        const req = http.get({
          host: '127.0.0.1',
          port: gw.port,
          path: `/stream?bytes=${bytes}`,
          agent: false,
        });
        const [res] = (await once(req, 'response')) as [http.IncomingMessage];
        for await (const chunk of res) {
          received += (chunk as Buffer).length;
          hash.update(chunk as Buffer);
        }
      });
      expect(received).to.equal(bytes);
      expect(hash.digest('hex')).to.equal(patternSha256(bytes));
      expect(growth, `peak memory growth ${Math.round(growth / MB)} MB`).to.be.below(LOOSE_LIMIT);
    });

    it('holds the upstream back while the client does not read', async () => {
      const bytes = 200 * MB;
      const req = http.get({
        host: '127.0.0.1',
        port: gw.port,
        path: `/stream?bytes=${bytes}`,
        agent: false,
      });
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.pause();
      const seen = await upstream.waitForRequest((r) => r.url.startsWith('/stream'));
      // No event says "every buffer on the way is full": wait until the upstream stops writing.
      const stalledAt = await settledValue(() => seen.responseBytes);
      expect(stalledAt, `${Math.round(stalledAt / MB)} MB written`).to.be.below(64 * MB);
      req.destroy();
      expect((await seen.closed).completed).to.equal(false);
    });
  });

  describe('a TLS upstream', () => {
    it('is addressed (SNI) by the hostname of upstream.url, not the client Host, and verified', async () => {
      const fixtures = new URL('../../fixtures/tls/', import.meta.url);
      const names: string[] = [];
      const secure = https.createServer({
        key: readFileSync(new URL('upstream-key.pem', fixtures)),
        cert: readFileSync(new URL('upstream-cert.pem', fixtures)),
        SNICallback: (name, done) => {
          names.push(name);
          done(null, undefined);
        },
      });
      secure.on('tlsClientError', () => undefined);
      secure.listen(0, '127.0.0.1');
      await once(secure, 'listening');
      const { port } = secure.address() as net.AddressInfo;
      const tls = await startGateway(`https://localhost:${port}`);
      try {
        const reply = await call(tls.port, { headers: { host: 'shop.example' } });
        expect(names).to.deep.equal(['localhost']);
        // Self-signed, so not trusted: the gateway refuses it rather than talk to anyone.
        expect(reply.status).to.equal(502);
      } finally {
        await tls.close();
        secure.close();
      }
    });
  });

  describe('upstream faults', () => {
    it('answers 502 JSON without internal details when the upstream refuses the connection', async () => {
      const port = await refusedPort();
      const refusing = await startGateway(`http://127.0.0.1:${port}`);
      try {
        const reply = await call(refusing.port, { path: '/refused' });
        expect(reply.status).to.equal(502);
        expect(reply.headers['content-type']).to.equal('application/json');
        expect(reply.headers['cache-control']).to.equal('no-store');
        const text = reply.body.toString();
        expect(JSON.parse(text)).to.have.property('detail').that.is.a('string');
        for (const secret of ['127.0.0.1', String(port), 'ECONNREFUSED', 'Error', ' at ']) {
          expect(text).not.to.include(secret);
        }
        expect(refusing.faults).to.deep.equal([{ url: '/refused', kind: 'unreachable' }]);
      } finally {
        await refusing.close();
      }
    });

    it('carries the request id on the 502 and 504 it answers itself', async () => {
      const port = await refusedPort();
      const handle = (proxy: UpstreamProxy, req: http.IncomingMessage, res: http.ServerResponse) =>
        proxy.web(req, res, 'req-502');
      const refusing = await startGateway(`http://127.0.0.1:${port}`, { handle });
      const impatient = await startGateway(upstream.url, { upstream: { timeout: 200 }, handle });
      try {
        const refused = await call(refusing.port);
        expect([refused.status, refused.headers['x-request-id']]).to.deep.equal([502, 'req-502']);
        const late = await call(impatient.port, { path: '/slow' });
        expect([late.status, late.headers['x-request-id']]).to.deep.equal([504, 'req-502']);
      } finally {
        await refusing.close();
        await impatient.close();
      }
    });

    it('answers 504 when no response head comes within upstream.timeout, and aborts the upstream request', async () => {
      const impatient = await startGateway(upstream.url, { upstream: { timeout: 300 } });
      try {
        const reply = await call(impatient.port, { path: '/slow' });
        expect(reply.status).to.equal(504);
        expect(JSON.parse(reply.body.toString())).to.have.property('detail');
        const seen = await upstream.waitForRequest((r) => r.url === '/slow');
        expect(await seen.closed).to.deep.equal({ completed: false });
        expect(impatient.faults).to.deep.equal([{ url: '/slow', kind: 'timeout' }]);
      } finally {
        await impatient.close();
      }
    });

    it('counts the wait for a pooled socket toward upstream.timeout and never sends the queued request', async () => {
      const single = await startGateway(upstream.url, {
        upstream: { timeout: 300, max_sockets: 1 },
      });
      try {
        // A download the client does not read holds the one socket past any deadline: with a
        // stalled /slow instead, its own timeout would free the socket a few ms before the queued
        // request's deadline, and the queued request would rightly be sent in that gap.
        const holder = http.get({
          host: '127.0.0.1',
          port: single.port,
          path: `/stream?bytes=${200 * MB}`,
          agent: false,
        });
        holder.on('error', () => {});
        const [held] = (await once(holder, 'response')) as [http.IncomingMessage];
        held.on('error', () => {});
        const queued = await call(single.port, { path: '/queued' });
        expect(queued.status).to.equal(504);
        holder.destroy();
        // Give a freed socket every chance to carry the queued request: one more full exchange.
        expect((await call(single.port, { path: '/after' })).status).to.equal(200);
        expect(upstream.requests.map((r) => r.url)).to.deep.equal([
          `/stream?bytes=${200 * MB}`,
          '/after',
        ]);
      } finally {
        await single.close();
      }
    });

    it('answers every request queued behind a stalled pool 504 within upstream.timeout, not after k × timeout', async () => {
      const timeoutMs = 1000;
      const stalledPool = await startGateway(upstream.url, {
        upstream: { timeout: timeoutMs, max_sockets: 2 },
      });
      try {
        // Two hold the pool's sockets; four wait, two by two, for one to come free. If the wait
        // did not count, the last pair would be answered after three times upstream.timeout.
        const started = Date.now();
        const elapsed: number[] = [];
        const replies = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            call(stalledPool.port, { path: `/slow?n=${i}` }).then((reply) => {
              elapsed.push(Date.now() - started);
              return reply;
            }),
          ),
        );
        expect(replies.map((r) => r.status)).to.deep.equal(new Array(6).fill(504));
        // A busy machine delays timers; twice the deadline still tells one wait from three.
        expect(Math.max(...elapsed), `answered after ${elapsed.join(', ')} ms`).to.be.below(
          2 * timeoutMs,
        );
        expect(Math.min(...elapsed)).to.be.at.least(timeoutMs - 50);
        expect(stalledPool.faults.map((f) => f.kind)).to.deep.equal(new Array(6).fill('timeout'));
      } finally {
        await stalledPool.close();
      }
    });

    it('answers 502 when no connection is made within connect_timeout', async () => {
      const stalled = await startStalledListener();
      const waiting = await startGateway(stalled.url, {
        upstream: { connect_timeout: 200, timeout: 10_000 },
      });
      try {
        const started = Date.now();
        const reply = await call(waiting.port, { path: '/stalled' });
        expect(reply.status).to.equal(502);
        expect(Date.now() - started).to.be.below(5000);
        expect(waiting.faults).to.deep.equal([{ url: '/stalled', kind: 'unreachable' }]);
      } finally {
        await waiting.close();
        await stalled.close();
      }
    });

    it('breaks the client response when the upstream resets after the head', async () => {
      const req = http.get({
        host: '127.0.0.1',
        port: gw.port,
        path: '/headers-then-reset',
        agent: false,
      });
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      expect(res.statusCode).to.equal(200);
      let received = 0;
      const [error] = (await new Promise((resolve) => {
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        res.on('error', (e) => resolve([e]));
        res.on('end', () => resolve([undefined]));
      })) as [Error | undefined];
      expect(error, 'the response ends in an error, not a clean end').to.be.instanceOf(Error);
      expect(received).to.be.below(1 << 20);
      expect(gw.faults).to.deep.equal([{ url: '/headers-then-reset', kind: 'reset' }]);
    });

    it('keeps serving after upstream faults', async () => {
      const impatient = await startGateway(upstream.url, { upstream: { timeout: 200 } });
      try {
        const faults = await Promise.allSettled([
          call(impatient.port, { path: '/slow' }),
          call(impatient.port, { path: '/headers-then-reset' }),
          call(impatient.port, { path: '/status?code=503' }),
        ]);
        expect(faults[0]).to.deep.include({ status: 'fulfilled' });
        const reply = await call(impatient.port, { path: '/healthy' });
        expect(reply.status).to.equal(200);
        expect(echoed(reply).url).to.equal('/healthy');
        // An upstream 503 is an answer, not a fault.
        expect(impatient.faults.map((f) => f.url).sort()).to.deep.equal([
          '/headers-then-reset',
          '/slow',
        ]);
      } finally {
        await impatient.close();
      }
    });
  });

  describe('client hang-ups', () => {
    it('aborts the upstream request when the client hangs up on a GET', async () => {
      const req = http.get({ host: '127.0.0.1', port: gw.port, path: '/slow', agent: false });
      req.on('error', () => {});
      const seen = await upstream.waitForRequest((r) => r.url === '/slow');
      req.destroy();
      expect(await seen.closed).to.deep.equal({ completed: false });
      expect(gw.faults).to.deep.equal([]);
    });

    it('aborts the upstream transfer when the client hangs up mid-download', async () => {
      const req = http.get({
        host: '127.0.0.1',
        port: gw.port,
        path: `/stream?bytes=${200 * MB}`,
        agent: false,
      });
      req.on('error', () => {});
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.on('error', () => {});
      await once(res, 'data');
      const seen = await upstream.waitForRequest((r) => r.url.startsWith('/stream'));
      req.destroy();
      expect(await seen.closed).to.deep.equal({ completed: false });
      expect(seen.responseBytes).to.be.below(200 * MB);
      expect(gw.faults).to.deep.equal([]);
    });
  });

  describe('client gone before the proxy is asked', () => {
    it('does not send the request upstream when the client left while the gateway decided', async () => {
      let arrived!: () => void;
      let handedOver!: () => void;
      const deciding = new Promise<void>((resolve) => (arrived = resolve));
      const proxied = new Promise<void>((resolve) => (handedOver = resolve));
      const late = await startGateway(upstream.url, {
        // As when the gateway awaits its store: the client hangs up before proxy.web is called.
        handle: (proxy, req, res) => {
          if (req.url !== '/late') return proxy.web(req, res);
          void req.socket.remoteAddress; // read on arrival, as the gateway's client resolver does
          res.once('close', () => {
            proxy.web(req, res);
            handedOver();
          });
          arrived();
        },
      });
      try {
        const req = http.get({ host: '127.0.0.1', port: late.port, path: '/late', agent: false });
        req.on('error', () => {});
        await deciding;
        const connections = upstream.connections;
        req.destroy();
        await proxied;
        // A full exchange after it: a connection opened for /late would have been accepted first.
        expect((await call(late.port, { path: '/after' })).status).to.equal(200);
        expect(upstream.requests.map((r) => r.url)).to.deep.equal(['/after']);
        expect(upstream.connections - connections).to.equal(1);
      } finally {
        await late.close();
      }
    });
  });

  describe('draining', () => {
    it('adds Connection: close to proxied responses while draining', async () => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        expect((await call(gw.port, { agent })).headers.connection).to.equal('keep-alive');
        gw.draining = true;
        const reply = await call(gw.port, { agent });
        expect(reply.status).to.equal(200);
        expect(reply.headers.connection).to.equal('close');
      } finally {
        agent.destroy();
      }
    });
  });

  describe('WebSocket upgrades', () => {
    const HANDSHAKE =
      'GET /chat?room=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'X-Forwarded-For: 198.51.100.2\r\n\r\n';

    it('tunnels an upgrade and echoes bytes both ways, with X-Forwarded-For appended', async () => {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.write(HANDSHAKE);
      const head = await readUntil(socket, (text) => text.includes('\r\n\r\n'));
      expect(head).to.match(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
      const payload = Buffer.from([0x70, 0x69, 0x6e, 0x67, 0x00, 0xff, 0x0d, 0x0a, 0x80]);
      socket.write(payload);
      const echo = await readUntil(socket, (text) => text.length >= payload.length);
      expect(echo).to.equal(payload.toString('latin1'));
      const seen = await upstream.waitForRequest((r) => r.upgrade);
      expect(seen.url).to.equal('/chat?room=1');
      expect(seen.headers['x-forwarded-for']).to.equal('198.51.100.2, 127.0.0.1');
      expect(seen.headers.upgrade).to.equal('websocket');
      expect(seen.headers.connection).to.equal('upgrade');
      socket.end();
      // The tunnel closes through to the upstream once the client ends it.
      await seen.closed;
    });

    it('destroys the client socket when the upstream refuses the connection', async () => {
      const refusing = await startGateway(`http://127.0.0.1:${await refusedPort()}`);
      try {
        const socket = net.connect(refusing.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.write(HANDSHAKE);
        await closed(socket);
        expect(refusing.faults).to.deep.equal([{ url: '/chat?room=1', kind: 'unreachable' }]);
      } finally {
        await refusing.close();
      }
    });

    it('survives a client reset before the upstream answered the upgrade, and drops the upstream request', async () => {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.write(HANDSHAKE.replace('/chat?room=1', '/slow'));
      const seen = await upstream.waitForRequest((r) => r.upgrade && r.url === '/slow');
      socket.resetAndDestroy();
      await seen.closed;
      expect((await call(gw.port)).status).to.equal(200);
      expect(gw.faults).to.deep.equal([]);
    });

    it('closes an upgrade that is not a WebSocket handshake without asking the upstream', async () => {
      const socket = net.connect(gw.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write('GET / HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
      await closed(socket);
      expect(upstream.requests).to.deep.equal([]);
    });
  });
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Polls `read` until it returns the same value three times in a row, 50 ms apart. */
async function settledValue(read: () => number): Promise<number> {
  let last = -1;
  let same = 0;
  for (let i = 0; i < 200 && same < 3; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}
