// Checks that slow clients cannot hold the gateway's connections: headers
// trickled in (slowloris) are cut at headers_timeout, a body trickled in at request_timeout, and
// an idle keep-alive connection is closed after keep_alive_timeout. Node checks the first two on
// an interval (at most 1 s, set by the gateway), so a cut lands up to that much after the deadline.
import { expect } from 'chai';
import { once } from 'node:events';
import net from 'node:net';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2000;
const KEEP_ALIVE_TIMEOUT_MS = 1000;
/** How often a slow client sends its next byte. */
const TRICKLE_MS = 200;
/** Room for the check interval and a busy machine (a benchmark may share it). */
const SLACK_MS = 2000;
/**
 * Node 20.20 closes an idle connection this long after the Keep-Alive timeout it advertises, so a
 * client that reuses the connection right at the deadline does not meet a closing socket.
 */
const NODE_KEEP_ALIVE_BUFFER_MS = 1000;

interface Ending {
  /** Everything the gateway wrote before the connection closed. */
  readonly text: string;
  /** From the first byte sent to the close. */
  readonly elapsedMs: number;
}

/**
 * Connects, sends `head` at once and then `trickle` one byte every TRICKLE_MS (repeating it) for
 * as long as the gateway keeps the connection open; resolves when it closes.
 */
async function trickle(port: number, head: string, trickled: string): Promise<Ending> {
  const socket = net.connect(port, '127.0.0.1');
  // Writes racing the gateway's close fail with EPIPE or ECONNRESET: the close is what counts.
  socket.on('error', () => {});
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  const started = Date.now();
  socket.write(head);
  let sent = 0;
  const pacer = setInterval(() => {
    if (socket.writable) socket.write(trickled[sent++ % trickled.length]!);
  }, TRICKLE_MS);
  try {
    await once(socket, 'close');
  } finally {
    clearInterval(pacer);
  }
  return { text, elapsedMs: Date.now() - started };
}

describe('slow clients', function () {
  this.timeout(20_000);

  let upstream: Upstream;
  let gw: RunningGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway(`
upstream: { url: "${upstream.url}" }
throttle: { limit: 1000, rules: [] }
listen:
  host: 127.0.0.1
  port: 0
  headers_timeout: ${HEADERS_TIMEOUT_MS}ms
  request_timeout: ${REQUEST_TIMEOUT_MS}ms
  keep_alive_timeout: ${KEEP_ALIVE_TIMEOUT_MS}ms
`);
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.requests.length = 0;
  });

  it('cuts a slowloris connection trickling its headers at headers_timeout with a 408', async () => {
    const { text, elapsedMs } = await trickle(
      gw.port,
      'GET /slowloris HTTP/1.1\r\nHost: shop.example\r\nX-Padding: ',
      'a',
    );
    expect(text).to.match(/^HTTP\/1\.1 408 /);
    expect(elapsedMs, `cut after ${elapsedMs} ms`).to.be.at.least(HEADERS_TIMEOUT_MS - 100);
    expect(elapsedMs, `cut after ${elapsedMs} ms`).to.be.below(HEADERS_TIMEOUT_MS + SLACK_MS);
    expect(
      upstream.requests,
      'the upstream never sees a request without its headers',
    ).to.deep.equal([]);
  });

  it('cuts a body trickled past request_timeout, and aborts its upstream request', async () => {
    const { text, elapsedMs } = await trickle(
      gw.port,
      'POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Type: text/plain\r\n' +
        'Content-Length: 100000\r\n\r\n',
      'b',
    );
    expect(text).to.match(/^HTTP\/1\.1 408 /);
    expect(elapsedMs, `cut after ${elapsedMs} ms`).to.be.at.least(REQUEST_TIMEOUT_MS - 100);
    expect(elapsedMs, `cut after ${elapsedMs} ms`).to.be.below(REQUEST_TIMEOUT_MS + SLACK_MS);
    // The request was streamed on as it came; the cut reaches the upstream too.
    const seen = await upstream.waitForRequest((r) => r.url === '/upload');
    expect(await seen.closed).to.deep.equal({ completed: false });
    expect(seen.bodyBytes).to.be.below(100_000);
  });

  it('closes an idle keep-alive connection after keep_alive_timeout, not before', async () => {
    const socket = net.connect(gw.port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    let text = '';
    const answered = new Promise<number>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (completeResponse(text)) resolve(Date.now());
      });
    });
    const closed = once(socket, 'close').then(() => Date.now());
    socket.write('GET /idle HTTP/1.1\r\nHost: shop.example\r\n\r\n');
    const answeredAt = await answered;
    expect(text).to.match(/^HTTP\/1\.1 200 /);
    expect(text.toLowerCase()).to.include(
      `keep-alive: timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}\r\n`,
    );
    const idleMs = (await closed) - answeredAt;
    expect(idleMs, `closed after ${idleMs} ms idle`).to.be.at.least(KEEP_ALIVE_TIMEOUT_MS - 100);
    expect(idleMs, `closed after ${idleMs} ms idle`).to.be.below(
      KEEP_ALIVE_TIMEOUT_MS + NODE_KEEP_ALIVE_BUFFER_MS + SLACK_MS,
    );
  });
});

/** True once `text` holds a whole response head and the Content-Length bytes of body after it. */
function completeResponse(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return length !== null && text.length - (end + 4) >= Number(length[1]);
}

describe('a slow upload is not a slow upstream', function () {
  this.timeout(20_000);

  it('lets a body trickled in for longer than upstream.timeout reach the upstream and its answer back', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway(`
upstream: { url: "${upstream.url}", timeout: 1s }
throttle: { limit: 1000, rules: [] }
listen: { host: 127.0.0.1, port: 0, headers_timeout: 5s, request_timeout: 10s, drain_timeout: 1s }
`);
    try {
      const body = 'x'.repeat(12);
      const head =
        `POST /upload/ HTTP/1.1\r\nHost: shop\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      const socket = net.connect(gw.port, '127.0.0.1');
      await once(socket, 'connect');
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.write(head);
      const started = Date.now();
      // 12 bytes over ~2.4 s: past the 1 s upstream.timeout while still uploading.
      for (const byte of body) {
        await new Promise((resolve) => setTimeout(resolve, TRICKLE_MS));
        socket.write(byte);
      }
      await once(socket, 'close');
      expect(Date.now() - started).to.be.greaterThan(HEADERS_TIMEOUT_MS);
      expect(text.split('\r\n')[0]).to.equal('HTTP/1.1 200 OK');
      const seen = await upstream.waitForRequest((r) => r.url === '/upload/');
      expect(seen.bodyBytes).to.equal(body.length);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});
