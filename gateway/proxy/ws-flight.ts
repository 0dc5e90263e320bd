// One WebSocket upgrade on its way through the proxy. Every upgrade ends one of two ways: the
// upstream switches protocols and the two sockets become a tunnel (reported open and closed, cut
// when idle), or the client gets an answer (the upstream's refusal, or nothing on a fault) and
// its socket is destroyed. No socket is ever left half-open for the client to keep.
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { causeOf, classifyFault, RESPONSE_TIMEOUT, type UpstreamFault } from './faults.js';
import { closeWhenFlushed } from '../http/close-when-flushed.js';
import { endToEndHeaders, headBlock } from './response-head.js';
import type { FlightHooks } from './web-flight.js';
import { requestUpstream } from './upstream-request.js';

export interface TunnelHooks {
  /**
   * The upstream answered the upgrade: 101 opened a tunnel, and `onTunnelClosed` follows exactly
   * once; any other status is a refusal passed on to the client.
   */
  readonly onUpgradeAnswered: ((req: IncomingMessage, status: number) => void) | undefined;
  readonly onTunnelClosed: ((req: IncomingMessage) => void) | undefined;
  /** How long a tunnel may carry no byte either way before it is cut. */
  readonly tunnelIdleTimeoutMs: number;
}

export class WsFlight {
  private readonly timer: NodeJS.Timeout;
  private upstreamRequest: ClientRequest | undefined;
  /** The upstream socket once it answered 101. */
  private tunnel: Duplex | undefined;
  /** The upstream answered (101 or a refusal) or the fault was handled. */
  private settled = false;
  private clientGone = false;

  /** `head` holds the bytes the client sent after its handshake; they go on only into a tunnel. */
  constructor(
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly hooks: FlightHooks & TunnelHooks,
  ) {
    this.timer = setTimeout(() => this.timedOut(), hooks.timeoutMs);
    // Node's server takes its 'error' listener off an upgraded socket: a client reset would be
    // an unhandled 'error', which crashes the process. 'close' follows and does the cleanup.
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.closed());
  }

  send(agent: Agent, path: string, headers: readonly string[]): void {
    const proxyReq = requestUpstream(this.hooks.target, agent, 'GET', path, headers);
    this.upstreamRequest = proxyReq;
    proxyReq.on('error', (error) => this.fail(error));
    proxyReq.on('response', (res: IncomingMessage) => this.refused(res));
    proxyReq.on('upgrade', (res: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer) =>
      this.open(res, upstreamSocket, upstreamHead),
    );
    proxyReq.end();
  }

  /**
   * The upstream answered with anything but 101 (a shop without WebSockets answers 200): the
   * client gets that answer, then its socket is closed and destroyed once the answer is out. The
   * client's extra bytes are dropped; they were meant for a tunnel that does not exist.
   */
  private refused(res: IncomingMessage): void {
    if (!this.answered()) {
      res.destroy();
      return;
    }
    const socket = this.socket;
    const status = res.statusCode ?? 502;
    this.hooks.onUpgradeAnswered?.(this.req, status);
    const headers = endToEndHeaders(res.rawHeaders);
    headers.push('connection', 'close');
    socket.write(headBlock(`HTTP/1.1 ${status} ${res.statusMessage ?? ''}`, headers));
    res.on('error', () => socket.destroy());
    res.pipe(socket, { end: false });
    res.once('end', () => closeWhenFlushed(socket, this.hooks.sendTimeoutMs));
    // A client that stops reading the answer midway is cut like any other (send_timeout).
    (socket as Socket).setTimeout(this.hooks.sendTimeoutMs, () => socket.destroy());
    // Reads and drops whatever the client still sends, so the close is a FIN rather than a
    // reset, which could destroy the answer before the client read it.
    socket.resume();
  }

  private open(res: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer): void {
    upstreamSocket.on('error', () => upstreamSocket.destroy());
    if (!this.answered()) {
      upstreamSocket.destroy();
      return;
    }
    const { socket, req, hooks } = this;
    this.tunnel = upstreamSocket;
    hooks.onUpgradeAnswered?.(req, 101);
    upstreamSocket.once('close', () => {
      // pipe() passes on an orderly end, so the client's last bytes still go out; an abrupt
      // close would leave the other side open for good.
      if (!socket.writableEnded) socket.destroy();
    });
    // The upstream's 101 head as it came: it carries the handshake (Upgrade, Connection,
    // Sec-WebSocket-Accept), which a hop-by-hop filter would strip.
    socket.write(headBlock('HTTP/1.1 101 Switching Protocols', res.rawHeaders));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (this.head.length > 0) upstreamSocket.write(this.head);
    const client = socket as Socket;
    client.setNoDelay(true);
    client.setTimeout(hooks.tunnelIdleTimeoutMs);
    client.once('timeout', () => {
      hooks.onIdleBound?.(req, 'tunnel_idle_timeout');
      socket.destroy();
    });
    socket.pipe(upstreamSocket).pipe(socket);
  }

  /** An error of the upstream request (connect, TLS, reset before the answer). */
  private fail(error: Error): void {
    if (this.clientGone || !this.answered()) return;
    this.report(classifyFault(error), causeOf(error));
    this.socket.destroy();
  }

  /** Marks the upgrade answered; false when it already was (or the client left). */
  private answered(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    return true;
  }

  private timedOut(): void {
    if (!this.answered()) return;
    this.report('timeout', RESPONSE_TIMEOUT);
    this.upstreamRequest?.destroy();
    this.socket.destroy();
  }

  private closed(): void {
    clearTimeout(this.timer);
    this.clientGone = true;
    this.settled = true;
    this.upstreamRequest?.destroy();
    if (this.tunnel) {
      if (!this.tunnel.writableEnded) this.tunnel.destroy();
      this.hooks.onTunnelClosed?.(this.req);
    }
  }

  private report(kind: UpstreamFault, cause: string): void {
    try {
      this.hooks.onUpstreamError?.(this.req, kind, cause);
    } catch {
      // As for web requests: the caller's bookkeeping must not crash the process.
    }
  }
}
