// A real upstream HTTP server for tests, on 127.0.0.1 and port 0. It records every request (the
// body hashed as it streams, never buffered) and offers routes that misbehave the ways a backend
// can, so proxy and integration tests can check what crossed the gateway.
//
// Routes (any method; the query string is ignored unless a route says otherwise):
//   /stream?bytes=N        200, N bytes of the pattern (see `patternSha256`), written with backpressure
//   /slow                  never answers; `closed` tells when the gateway gave up on it
//   /delay?ms=N            answers as the default route, N ms after the request body ended
//   /status?code=N         answers as the default route, with status N
//   /headers-then-reset    a 200 head promising 1 MB, 1 KiB of body, then the socket destroyed
//   /hop                   answers with hop-by-hop headers and two Set-Cookie (HOP_RESPONSE_HEADERS)
//   /redirect?to=P&code=N  status N (default 302) with `Location: P`, as a backend moving a page
//   anything else          200 JSON `{ method, url, headers, bodyBytes, bodySha256 }` once the body ended
// Upgrades: `/slow` is never answered; any other path answers `101 Switching Protocols` and then
// echoes every byte back (no WebSocket framing: a raw echo is enough to test a tunnel).
//
// `startStalledListener` gives a loopback port where a TCP connect never completes, to test
// connect timeouts without sending traffic off the machine.
//
// `startScriptedUpstream` speaks HTTP/1.1 by hand and lets a test decide each request's fate
// (answer, reset, close, half an answer) the moment it arrives, as on a reused keep-alive connection.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Duplex, Writable } from 'node:stream';

export interface RecordedRequest {
  readonly method: string;
  /** The request target exactly as received (path and query). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Names and values as received, in order and case, repeated fields not joined. */
  readonly rawHeaders: readonly string[];
  /** An upgrade request (WebSocket handshake) rather than a plain request. */
  readonly upgrade: boolean;
  /** Body bytes received so far; final once `bodyEnded` resolved. */
  bodyBytes: number;
  /** SHA-256 (hex) of the body; '' until `bodyEnded` resolved. */
  bodySha256: string;
  /** Response body bytes handed to the socket so far (`/stream` only). */
  responseBytes: number;
  /** Resolves once the whole request body has arrived (never, if the client aborted first). */
  readonly bodyEnded: Promise<void>;
  /**
   * Resolves when the exchange is over: `completed` is true when the whole response was sent,
   * false when the connection closed first (the gateway aborted the request or destroyed the
   * socket). An upgrade has no end of response: its `completed` is always false.
   */
  readonly closed: Promise<{ readonly completed: boolean }>;
}

export interface Upstream {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Every request in arrival order; tests may clear it with `requests.length = 0`. */
  readonly requests: RecordedRequest[];
  /** TCP connections accepted since the start (a proxy's pool reuses them; a stray one shows). */
  readonly connections: number;
  /** The first recorded request that matches, or else the next one to arrive that does. */
  waitForRequest(match?: (request: RecordedRequest) => boolean): Promise<RecordedRequest>;
  /** Stops listening and destroys every open connection, upgraded ones included. */
  close(): Promise<void>;
}

/** What `/hop` answers with besides its JSON body; `x-secret` is named by its Connection header. */
export const HOP_RESPONSE_HEADERS: readonly (readonly [string, string])[] = [
  ['Connection', 'x-secret'],
  ['X-Secret', 'upstream-only'],
  ['Keep-Alive', 'timeout=99, max=7'],
  ['Proxy-Authenticate', 'Basic realm="upstream"'],
  ['Trailer', 'x-checksum'],
  ['Upgrade', 'h2c'],
  ['Set-Cookie', 'first=1; Path=/; HttpOnly'],
  ['Set-Cookie', 'second=2; Path=/; Secure'],
  ['X-End-To-End', 'kept'],
];

// The pattern is byte i = i mod 251: a prime period, so no chunk size lines up with it and a
// dropped, repeated or reordered chunk changes the hash.
const PERIOD = 251;
const CHUNK = 64 * 1024;
const SPAN = 1024 * 1024;
const PATTERN = Buffer.alloc(PERIOD + SPAN);
for (let i = 0; i < PATTERN.length; i += 1) PATTERN[i] = i % PERIOD;

/** `length` bytes of the pattern starting at absolute `offset`; no copy up to 1 MiB. */
export function patternChunk(offset: number, length: number): Buffer {
  const start = offset % PERIOD;
  if (length <= SPAN) return PATTERN.subarray(start, start + length);
  const chunk = Buffer.allocUnsafe(length);
  for (let at = 0; at < length; at += SPAN) {
    PATTERN.copy(
      chunk,
      at,
      (start + at) % PERIOD,
      ((start + at) % PERIOD) + Math.min(SPAN, length - at),
    );
  }
  return chunk;
}

/** SHA-256 (hex) of the first `bytes` bytes of the pattern, as a client checks a download. */
export function patternSha256(bytes: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < bytes; offset += CHUNK) {
    hash.update(patternChunk(offset, Math.min(CHUNK, bytes - offset)));
  }
  return hash.digest('hex');
}

/**
 * Writes `bytes` bytes of the pattern to `out` in 64 KiB chunks, waiting for 'drain' whenever
 * `out` is full, so no more than its buffer is ever held. Calls `onChunk` with the running total.
 * Does not end `out`. Rejects if `out` closes or fails first.
 */
export async function writePattern(
  out: Writable,
  bytes: number,
  onChunk: (written: number) => void = () => {},
): Promise<void> {
  let written = 0;
  while (written < bytes) {
    if (out.destroyed) throw new Error('the stream closed before the pattern was written');
    const length = Math.min(CHUNK, bytes - written);
    const more = out.write(patternChunk(written, length));
    written += length;
    onChunk(written);
    if (!more) await drained(out);
  }
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      out.off('drain', done);
      out.off('close', closed);
      out.off('error', done);
      if (error) reject(error);
      else resolve();
    };
    const closed = () => done(new Error('the stream closed while waiting for drain'));
    out.on('drain', done);
    out.on('close', closed);
    out.on('error', done);
  });
}

export async function startUpstream(): Promise<Upstream> {
  const requests: RecordedRequest[] = [];
  const waiters = new Set<{
    match: (r: RecordedRequest) => boolean;
    resolve: (r: RecordedRequest) => void;
  }>();
  const sockets = new Set<net.Socket>();
  let connections = 0;

  function record(req: IncomingMessage, upgrade: boolean, closedBy: Duplex | ServerResponse) {
    const hash = createHash('sha256');
    let completed = false;
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      upgrade,
      bodyBytes: 0,
      bodySha256: '',
      responseBytes: 0,
      bodyEnded: new Promise<void>((resolve) => {
        req.on('data', (chunk: Buffer) => {
          recorded.bodyBytes += chunk.length;
          hash.update(chunk);
        });
        req.on('end', () => {
          recorded.bodySha256 = hash.digest('hex');
          resolve();
        });
      }),
      closed: new Promise((resolve) => {
        if (closedBy instanceof http.ServerResponse) {
          closedBy.once('finish', () => (completed = true));
        }
        closedBy.once('close', () => resolve({ completed }));
      }),
    };
    // A client that goes away mid-body makes the request emit 'error' ('aborted').
    req.on('error', () => {});
    requests.push(recorded);
    for (const waiter of waiters) {
      if (waiter.match(recorded)) {
        waiters.delete(waiter);
        waiter.resolve(recorded);
      }
    }
    return recorded;
  }

  const server = http.createServer((req, res) => {
    const recorded = record(req, false, res);
    const { pathname, query } = splitTarget(req.url ?? '/');
    switch (pathname) {
      case '/slow':
        return;
      case '/stream':
        return void stream(res, recorded, Number(query.get('bytes') ?? 0));
      case '/delay':
        return void recorded.bodyEnded.then(() =>
          setTimeout(() => echo(res, recorded), Number(query.get('ms') ?? 0)),
        );
      case '/status':
        return void recorded.bodyEnded.then(() =>
          echo(res, recorded, { status: Number(query.get('code') ?? 200) }),
        );
      case '/headers-then-reset':
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': 1 << 20,
        });
        res.write(patternChunk(0, 1024), () => res.socket?.destroy());
        return;
      case '/hop':
        // Chunked: Node refuses a Trailer header on a response with Content-Length.
        return void recorded.bodyEnded.then(() =>
          echo(res, recorded, { headers: HOP_RESPONSE_HEADERS, chunked: true }),
        );
      case '/redirect':
        return void recorded.bodyEnded.then(() =>
          echo(res, recorded, {
            status: Number(query.get('code') ?? 302),
            headers: [['Location', query.get('to') ?? '/']],
          }),
        );
      default:
        return void recorded.bodyEnded.then(() => echo(res, recorded));
    }
  });

  server.on('connection', (socket: net.Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    record(req, true, socket);
    if (splitTarget(req.url ?? '/').pathname === '/slow') {
      // Read (and drop) whatever comes, and close when the other side does: an upgraded server
      // socket is half-open and would otherwise never reach 'close'.
      socket.once('end', () => socket.end());
      socket.resume();
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    waitForRequest(match = () => true) {
      const seen = requests.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

function splitTarget(target: string): { pathname: string; query: URLSearchParams } {
  const mark = target.indexOf('?');
  if (mark === -1) return { pathname: target, query: new URLSearchParams() };
  return { pathname: target.slice(0, mark), query: new URLSearchParams(target.slice(mark + 1)) };
}

interface EchoOptions {
  readonly status?: number;
  readonly headers?: readonly (readonly [string, string])[];
  /** No Content-Length: Node sends the body chunked. */
  readonly chunked?: boolean;
}

function echo(res: ServerResponse, recorded: RecordedRequest, options: EchoOptions = {}): void {
  const { method, url, headers, bodyBytes, bodySha256 } = recorded;
  const body = JSON.stringify({ method, url, headers, bodyBytes, bodySha256 });
  const head: string[] = [];
  for (const [name, value] of options.headers ?? []) head.push(name, value);
  head.push('Content-Type', 'application/json');
  if (!options.chunked) head.push('Content-Length', String(Buffer.byteLength(body)));
  res.writeHead(options.status ?? 200, head);
  res.end(body);
}

async function stream(res: ServerResponse, recorded: RecordedRequest, bytes: number) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
  try {
    await writePattern(res, bytes, (written) => (recorded.responseBytes = written));
    res.end();
  } catch {
    // The gateway went away mid-stream; `closed` reports it.
  }
}

export interface StalledListener {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Ends the listening process and the connections that filled its queue. */
  close(): Promise<void>;
}

// The listener lives in a child process that blocks its own event loop right after listen(), so it
// never accepts: once the kernel's accept queue (backlog 1) is full, Linux drops further SYNs and a
// connect just waits. Node cannot listen without accepting, hence the second process.
const STALLED_CHILD = `
const net = require('node:net');
const fs = require('node:fs');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  fs.writeSync(1, server.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});`;

/** How long a probe connect may take before the queue counts as full; loopback takes < 1 ms. */
const PROBE_MS = 250;

/** A loopback port where a new TCP connection never completes (for connect timeout tests). */
export async function startStalledListener(): Promise<StalledListener> {
  const child = spawn(process.execPath, ['-e', STALLED_CHILD], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(String(line).trim());
  const fillers: net.Socket[] = [];
  const close = async () => {
    for (const socket of fillers) socket.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  };
  // Fill the accept queue until one connect stalls; that one proves the next will stall too.
  for (let attempt = 0; attempt < 16; attempt += 1) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await Promise.race([
      once(socket, 'connect').then(() => true),
      new Promise<false>((resolve) => setTimeout(resolve, PROBE_MS, false)),
    ]);
    if (!connected) return { url: `http://127.0.0.1:${port}`, port, close };
  }
  await close();
  throw new Error('startStalledListener: the accept queue never filled (not Linux?)');
}

/** One request as a scripted upstream read it. */
export interface ScriptedRequest {
  readonly method: string;
  /** The request target as received. */
  readonly url: string;
  /** The TCP connection it came on: 1 for the first accepted, 2 for the next, and so on. */
  readonly connection: number;
  /** 0 for the first request on its connection; 1 or more: a reused keep-alive connection. */
  readonly onConnection: number;
  /** Header names lower-cased, values as sent (the last one of a repeated field). */
  readonly headers: Readonly<Record<string, string>>;
}

/** How a scripted upstream treats one request; doing nothing leaves it waiting for good. */
export interface ScriptedReply {
  /** 200 with a small JSON body naming the request, the connection kept alive. */
  answer(): void;
  /** Destroys the connection with a TCP RST, as an upstream that drops it abruptly. */
  reset(): void;
  /** Closes the connection (FIN) without answering, as an upstream closing an idle connection. */
  hangUp(): void;
  /** Writes raw bytes (a partial answer, say); resolves once they are handed to the kernel. */
  send(raw: string): Promise<void>;
}

export interface ScriptedUpstream {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Every request whose head arrived, in arrival order, answered or not. */
  readonly requests: readonly ScriptedRequest[];
  /** TCP connections accepted since the start. */
  readonly connections: number;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

/**
 * An upstream on 127.0.0.1 and port 0 that speaks just enough HTTP/1.1 by hand to decide, request
 * by request, what happens to the connection: Node's server reads the socket natively, so a
 * test could not otherwise act at the moment a request arrives on a kept-alive connection.
 * `script` runs as soon as a request head has arrived. Bodies must be framed by Content-Length
 * (they are read and dropped); chunked request bodies are not understood.
 */
export async function startScriptedUpstream(
  script: (request: ScriptedRequest, reply: ScriptedReply) => void,
): Promise<ScriptedUpstream> {
  const requests: ScriptedRequest[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;

  const server = net.createServer((socket) => {
    const connection = (connections += 1);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let bodyLeft = 0;
    let onConnection = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (bodyLeft > 0) {
          const skipped = Math.min(bodyLeft, buffered.length);
          bodyLeft -= skipped;
          buffered = buffered.subarray(skipped);
          if (bodyLeft > 0) return;
        }
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1 || socket.destroyed) return;
        const [line = '', ...fields] = buffered.subarray(0, end).toString('latin1').split('\r\n');
        buffered = buffered.subarray(end + 4);
        const headers: Record<string, string> = {};
        for (const field of fields) {
          const colon = field.indexOf(':');
          headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
        }
        bodyLeft = Number(headers['content-length'] ?? 0);
        const [method = '', url = ''] = line.split(' ');
        const request = { method, url, connection, onConnection, headers };
        onConnection += 1;
        requests.push(request);
        script(request, scriptedReply(socket, request));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get connections() {
      return connections;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

function scriptedReply(socket: net.Socket, request: ScriptedRequest): ScriptedReply {
  return {
    answer() {
      // A HEAD answer announces the length of the body it does not carry.
      const json = JSON.stringify(request);
      const body = request.method === 'HEAD' ? '' : json;
      socket.write(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n' +
          `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${body}`,
      );
    },
    reset() {
      socket.resetAndDestroy();
    },
    hangUp() {
      socket.destroy();
    },
    send(raw) {
      return new Promise((resolve) => socket.write(raw, () => resolve()));
    },
  };
}
