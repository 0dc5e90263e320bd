// One client must never be able to take the shop down: each attack here comes from one address
// (127.0.0.1) over raw sockets, against a real gateway and a real upstream, while another client
// (127.0.0.2, another loopback address) must still be served. Each measures what must not grow
// (open fds of this process, which holds gateway, upstream and attacker alike, and the heap) and
// asserts it comes back to where it was. Timeouts are short so the whole file stays fast.
import { expect } from 'chai';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { captureLog, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const ATTACKER = '127.0.0.1';
const VICTIM = '127.0.0.2';
/** listen.headers_timeout, body_timeout and send_timeout of the gateway under attack. */
const IDLE_MS = 1000;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function heapAfterGc(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/**
 * Checks `ok` every 50 ms (after `refresh`, for values read asynchronously) until it holds
 * (true) or `withinMs` passes (false): for counts no event announces, such as open fds.
 */
async function eventually(
  ok: () => boolean,
  withinMs: number,
  refresh: () => Promise<unknown> = async () => {},
): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
    await refresh();
  }
  return true;
}

/** What an attack left behind, measured against the level before it. */
interface Leftover {
  readonly fds: number;
  readonly heapBytes: number;
}

/** The fds and heap before `attack`; after it, waits for fds to come back, then measures both. */
async function leftoverOf(attack: () => Promise<void>): Promise<Leftover> {
  const fdsBefore = openFds();
  const heapBefore = heapAfterGc();
  await attack();
  // Sockets the gateway destroyed close a tick later; a few pooled upstream sockets may stay.
  await eventually(() => openFds() <= fdsBefore + 4, 10_000);
  return { fds: openFds() - fdsBefore, heapBytes: heapAfterGc() - heapBefore };
}

/** Heap growth that is noise of a test run rather than something kept per attacking socket. */
const HEAP_NOISE = 4 * 1024 * 1024;

function expectNoLeak(left: Leftover): void {
  expect(left.fds, `${left.fds} fds left open`).to.be.at.most(4);
  expect(left.heapBytes, `heap grew ${Math.round(left.heapBytes / 1024)} KiB`).to.be.below(
    HEAP_NOISE,
  );
}

/** A raw connection from the attacker's address, its errors (resets) expected and ignored. */
async function connect(port: number, localAddress = ATTACKER): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Everything a socket receives until it closes, and whether it closed. */
function received(socket: net.Socket): { text: () => string; closed: Promise<void> } {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  return { text: () => text, closed: once(socket, 'close').then(() => undefined) };
}

/** One GET from the victim's address; its status and how long it took. */
async function victimGets(port: number, path = '/victim'): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const req = http.get({ host: '127.0.0.1', port, path, localAddress: VICTIM, agent: false });
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  res.resume();
  await once(res, 'end');
  return { status: res.statusCode ?? 0, ms: Date.now() - started };
}

function gatewayConfig(upstreamUrl: string, extra = ''): string {
  return `
listen:
  host: 127.0.0.1
  port: 0
  headers_timeout: ${IDLE_MS}ms
  request_timeout: 10s
  body_timeout: ${IDLE_MS}ms
  send_timeout: ${IDLE_MS}ms
  tunnel_idle_timeout: 1s
  drain_timeout: 300ms
  max_connections_per_client: 64
upstream: { url: "${upstreamUrl}", max_sockets: 4, timeout: 5s }
client_ip: { trusted_proxies: [] }
throttle: { limit: 1000000, rules: [] }
${extra}`;
}

async function boundsHit(gw: RunningGateway, bound: string): Promise<number> {
  const metric = await gw.gateway.metrics.bounds.get();
  return metric.values.find((v) => v.labels.bound === bound)?.value ?? 0;
}

describe('one client cannot take the shop down', function () {
  this.timeout(30_000);

  let upstream: Upstream;
  let gw: RunningGateway;

  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    gw = await startGateway(gatewayConfig(upstream.url));
    // Warm up: the pool's first socket, lazy modules and the victim's path exist before measuring.
    expect((await victimGets(gw.port)).status).to.equal(200);
    upstream.requests.length = 0;
  });
  afterEach(async () => {
    await gw.stop();
  });

  it('a client stalling its uploads never holds more than half of a 4-socket pool, exempt paths included, and is cut at body_timeout', async () => {
    const attackers: ReturnType<typeof received>[] = [];
    let victim = { status: 0, ms: 0 };
    let cutBeforeVictim = -1;
    const left = await leftoverOf(async () => {
      for (let i = 0; i < 20; i += 1) {
        const socket = await connect(gw.port);
        attackers.push(received(socket));
        socket.write(
          `POST /static/upload-${i} HTTP/1.1\r\nHost: shop\r\nContent-Length: 1000\r\n\r\n`,
        );
      }
      // The client's share of the pool is taken once the rest are refused.
      await eventually(
        () => attackers.filter((a) => a.text().includes(' 503 ')).length === 18,
        5000,
      );
      victim = await victimGets(gw.port);
      cutBeforeVictim = attackers.filter((a) => a.text().includes(' 408 ')).length;
      await Promise.all(attackers.map((a) => a.closed));
    });
    expect(victim.status).to.equal(200);
    // Served while the two stalled uploads still held their upstream sockets.
    expect(cutBeforeVictim, `uploads cut before the victim was served (${victim.ms} ms)`).to.equal(
      0,
    );
    const answers = attackers.map((a) => Number(/^HTTP\/1\.1 (\d{3})/.exec(a.text())?.[1]));
    expect(answers.filter((s) => s === 408)).to.have.length(2);
    expect(answers.filter((s) => s === 503)).to.have.length(18);
    expect(await boundsHit(gw, 'client_upstream_requests')).to.equal(18);
    expect(await boundsHit(gw, 'body_timeout')).to.equal(2);
    // Their heads never reached the upstream: Node sends them with the first body byte.
    expect(upstream.requests.filter((r) => r.url.startsWith('/static/upload-'))).to.deep.equal([]);
    expectNoLeak(left);
  });

  it('a client that never reads its downloads holds at most half the pool, and is cut at send_timeout', async () => {
    const attackers: net.Socket[] = [];
    let victim = { status: 0, ms: 0 };
    let streams: typeof upstream.requests = [];
    let cutBeforeVictim = -1;
    const left = await leftoverOf(async () => {
      for (let i = 0; i < 6; i += 1) {
        const socket = await connect(gw.port);
        // Reads nothing: the kernel's receive buffer fills, then the gateway's, then the upstream's.
        socket.pause();
        attackers.push(socket);
        socket.write(`GET /stream?bytes=${64 << 20}&n=${i} HTTP/1.1\r\nHost: shop\r\n\r\n`);
      }
      await upstream.waitForRequest((r) => r.url.startsWith('/stream'));
      victim = await victimGets(gw.port);
      cutBeforeVictim = await boundsHit(gw, 'send_timeout');
      streams = upstream.requests.filter((r) => r.url.startsWith('/stream'));
      await Promise.all(streams.map((stream) => stream.closed));
      // A paused socket sees the gateway's close only once it reads what was sent before it.
      const closed = attackers.map((socket) => once(socket, 'close'));
      for (const socket of attackers) socket.resume();
      await Promise.all(closed);
    });
    expect(victim.status).to.equal(200);
    expect(
      cutBeforeVictim,
      `downloads cut before the victim was served (${victim.ms} ms)`,
    ).to.equal(0);
    expect(streams).to.have.length(2);
    for (const stream of streams) expect((await stream.closed).completed).to.equal(false);
    expect(await boundsHit(gw, 'send_timeout')).to.equal(2);
    expect(await boundsHit(gw, 'client_upstream_requests')).to.equal(4);
    expectNoLeak(left);
  });

  it('a connection that never sends a byte is answered 408 at headers_timeout and destroyed, and one address holds at most max_connections_per_client', async () => {
    const silent: ReturnType<typeof received>[] = [];
    let victim = { status: 0, ms: 0 };
    const left = await leftoverOf(async () => {
      const sockets = await Promise.all(Array.from({ length: 200 }, () => connect(gw.port)));
      for (const socket of sockets) silent.push(received(socket));
      victim = await victimGets(gw.port);
      // Neither sends nor closes: only the gateway can end these.
      await Promise.all(silent.map((s) => s.closed));
    });
    expect(victim.status).to.equal(200);
    const answered = silent.filter((s) => s.text().startsWith('HTTP/1.1 408 Request Timeout'));
    expect(answered).to.have.length(64);
    expect(silent.filter((s) => s.text() === '')).to.have.length(136);
    expect(await boundsHit(gw, 'client_connections')).to.equal(136);
    expectNoLeak(left);
  });

  it('answers an h2c upgrade (curl --http2, Java HttpClient) as the plain HTTP/1.1 request it is, never upgraded', async () => {
    const socket = await connect(gw.port);
    const answer = received(socket);
    socket.write(
      'POST /h2c?x=1 HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade, HTTP2-Settings\r\n' +
        'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello',
    );
    const seen = await upstream.waitForRequest((r) => r.url === '/h2c?x=1');
    await seen.bodyEnded;
    expect(seen.upgrade).to.equal(false);
    expect(seen.bodyBytes).to.equal(5);
    expect(seen.headers).not.to.have.property('upgrade');
    expect(seen.headers).not.to.have.property('http2-settings');
    await eventually(() => answer.text().includes('"bodyBytes":5'), 5000);
    expect(answer.text()).to.match(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.text()).not.to.match(/101 Switching/);
    // The connection stays an HTTP/1.1 keep-alive connection: a second request is answered.
    socket.write('GET /after-h2c HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n');
    await answer.closed;
    expect(answer.text().match(/HTTP\/1\.1 200 OK/g)).to.have.length(2);
  });
});

describe("a client's share of the upstream", function () {
  this.timeout(15_000);

  it("holds a client behind a trusted proxy to half the pool, but not the proxy's own requests", async () => {
    const upstream = await startUpstream();
    // Loopback is a trusted proxy here: X-Forwarded-For names the client.
    const gw = await startGateway(
      `upstream: { url: "${upstream.url}", max_sockets: 4 }\nthrottle: { limit: 1000000, rules: [] }`,
    );
    try {
      const statuses = (headers: Record<string, string>) =>
        Promise.all(
          Array.from({ length: 4 }, (_, i) =>
            fetch(`${gw.url}/delay?ms=300&n=${i}`, { headers }).then((res) => res.status),
          ),
        );
      const shopper = await statuses({ 'x-forwarded-for': '203.0.113.9' });
      expect(shopper.filter((s) => s === 200)).to.have.length(2);
      expect(shopper.filter((s) => s === 503)).to.have.length(2);
      // A storefront's server-side fetches name no client: they are everyone's.
      expect(await statuses({})).to.deep.equal([200, 200, 200, 200]);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});

describe('WebSocket upgrades cannot leak sockets', function () {
  this.timeout(30_000);

  let upstream: Upstream;
  /** A shop without WebSockets: it answers every request, an upgrade too, with a plain 200. */
  let plainShop: http.Server;
  let plainShopUrl: string;

  before(async () => {
    upstream = await startUpstream();
    plainShop = http.createServer((req, res) => res.end('no websockets here'));
    plainShop.listen(0, '127.0.0.1');
    await once(plainShop, 'listening');
    plainShopUrl = `http://127.0.0.1:${(plainShop.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    await upstream.close();
    plainShop.closeAllConnections();
    await new Promise((resolve) => plainShop.close(resolve));
  });

  const HANDSHAKE =
    'GET /chat HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

  it('answers 300 upgrades the upstream refuses (200 plus one extra byte) and destroys every socket', async () => {
    // A pool of 64: one client's share (32) lets 30 upgrades run at once.
    const gw = await startGateway(
      gatewayConfig(plainShopUrl).replace('max_sockets: 4', 'max_sockets: 64'),
    );
    try {
      expect((await victimGets(gw.port)).status).to.equal(200);
      const answers: string[] = [];
      let victim = { status: 0, ms: 0 };
      const left = await leftoverOf(async () => {
        for (let round = 0; round < 10; round += 1) {
          // 30 at a time, within max_connections_per_client; the client never closes.
          const sockets = await Promise.all(Array.from({ length: 30 }, () => connect(gw.port)));
          const replies = sockets.map((socket) => {
            const reply = received(socket);
            socket.write(`${HANDSHAKE}x`);
            return reply;
          });
          await Promise.all(replies.map((r) => r.closed));
          answers.push(...replies.map((r) => r.text()));
        }
        victim = await victimGets(gw.port);
      });
      expect(answers).to.have.length(300);
      for (const answer of answers) expect(answer).to.match(/^HTTP\/1\.1 200 OK\r\n/);
      expect(answers.every((a) => a.endsWith('no websockets here'))).to.equal(true);
      expect(victim.status).to.equal(200);
      expect((await gw.gateway.metrics.tunnelsOpen.get()).values[0]?.value).to.equal(0);
      expectNoLeak(left);
    } finally {
      await gw.stop();
    }
  });

  it('cuts an idle tunnel at tunnel_idle_timeout, counted in metrics and logged', async () => {
    const log = captureLog();
    const gw = await startGateway(gatewayConfig(upstream.url, 'log: { level: info }'), {
      logTo: log,
    });
    try {
      const socket = await connect(gw.port);
      const reply = received(socket);
      socket.write(HANDSHAKE);
      await eventually(() => reply.text().includes('\r\n\r\n'), 5000);
      expect(reply.text()).to.match(/^HTTP\/1\.1 101 /);
      expect((await gw.gateway.metrics.tunnelsOpen.get()).values[0]?.value).to.equal(1);
      await reply.closed;
      expect(await boundsHit(gw, 'tunnel_idle_timeout')).to.equal(1);
      const tunnelsOpen = async () => (await gw.gateway.metrics.tunnelsOpen.get()).values[0]?.value;
      let open = await tunnelsOpen();
      await eventually(
        () => open === 0,
        5000,
        async () => (open = await tunnelsOpen()),
      );
      expect(open).to.equal(0);
      const lines = log.lines.filter((line) => line.event === 'upgrade');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include({ path: '/chat', status: 101, outcome: 'proxied' });
      expect(lines[0]!.duration_ms).to.be.at.least(1000);
    } finally {
      await gw.stop();
    }
  });

  it('cuts an open WebSocket at drain_timeout, so shutdown finishes', async () => {
    const gw = await startGateway(
      gatewayConfig(upstream.url).replace('tunnel_idle_timeout: 1s', 'tunnel_idle_timeout: 1h'),
    );
    const socket = await connect(gw.port);
    const reply = received(socket);
    socket.write(HANDSHAKE);
    await eventually(() => reply.text().includes('\r\n\r\n'), 5000);
    expect(reply.text()).to.match(/^HTTP\/1\.1 101 /);
    // Keeps the tunnel busy, as a chatty client would: only the drain can end it.
    const chatter = setInterval(() => socket.write('ping'), 50);
    try {
      const started = Date.now();
      await gw.stop();
      await reply.closed;
      expect(Date.now() - started, 'shutdown took').to.be.below(5000);
    } finally {
      clearInterval(chatter);
    }
  });
});
