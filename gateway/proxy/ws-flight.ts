// One WebSocket upgrade on its way through the proxy: the upstream.timeout timer until the
// upstream answers, and the two sockets' lifetimes tied together once it switched protocols.
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { classifyFault, type UpstreamFault } from './faults.js';
import type { FlightHooks } from './web-flight.js';

export class WsFlight {
  private readonly timer: NodeJS.Timeout;
  private upstreamRequest: ClientRequest | undefined;
  /** The upstream socket once it answered 101. */
  private tunnel: Duplex | undefined;
  /** The upstream answered (101 or a refusal) or the fault was handled. */
  private settled = false;
  private clientGone = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly hooks: FlightHooks,
  ) {
    this.timer = setTimeout(() => this.timedOut(), hooks.timeoutMs);
    // Node's server takes its 'error' listener off an upgraded socket and http-proxy adds one only
    // after the upstream switched protocols: a client reset before that would be an unhandled
    // 'error', which crashes the process. 'close' follows and does the cleanup.
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.closed());
  }

  /** http-proxy's 'proxyReqWs': the upstream request, before it is sent. */
  attach(proxyReq: ClientRequest): void {
    this.upstreamRequest = proxyReq;
    // A refusal (any status but 101): http-proxy writes it to the client and pipes its body.
    proxyReq.once('response', () => this.answered());
    proxyReq.once('upgrade', (_res: IncomingMessage, upstreamSocket: Duplex) => {
      this.answered();
      this.tunnel = upstreamSocket;
      // http-proxy pipes the sockets into each other; pipe() passes on an orderly end but not an
      // abrupt close, which would leave the other side open for good.
      upstreamSocket.once('close', () => {
        if (!this.socket.writableEnded) this.socket.destroy();
      });
      if (this.clientGone) upstreamSocket.destroy();
    });
  }

  /** http-proxy's 'error' for this upgrade: the upstream request or, later, the upstream socket. */
  fail(error: Error): void {
    if (this.clientGone) return;
    if (!this.settled) {
      this.settled = true;
      clearTimeout(this.timer);
      this.report(classifyFault(error));
    }
    // After the switch the tunnel belongs to the application; its end is not reported.
    this.upstreamRequest?.destroy();
    this.tunnel?.destroy();
    this.socket.destroy();
  }

  private answered(): void {
    this.settled = true;
    clearTimeout(this.timer);
  }

  private timedOut(): void {
    if (this.settled) return;
    this.settled = true;
    this.report('timeout');
    this.upstreamRequest?.destroy();
    this.socket.destroy();
  }

  private closed(): void {
    clearTimeout(this.timer);
    this.clientGone = true;
    this.settled = true;
    if (!this.tunnel) this.upstreamRequest?.destroy();
    else if (!this.tunnel.writableEnded) this.tunnel.destroy();
  }

  private report(kind: UpstreamFault): void {
    try {
      this.hooks.onUpstreamError?.(this.req, kind);
    } catch {
      // As for web requests: the caller's bookkeeping must not crash the process.
    }
  }
}
