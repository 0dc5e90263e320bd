// One request on its way through the proxy, from web() until it is over: the upstream.timeout
// timer, the handle that destroys the upstream request, the one retry of a stale keep-alive
// connection, and the rule that a request is answered exactly once and each upstream fault
// reported once.
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { answerFault, classifyFault, type UpstreamFault } from './faults.js';
import { forwardBody } from './forward-body.js';
import { writeResponseHead } from './response-head.js';
import { isStaleSocketFailure, socketUse, type SocketUse } from './stale-retry.js';
import type { RequestOwner } from './upstream-agent.js';

export interface FlightHooks {
  /**
   * upstream.timeout in ms: from web() until the upstream's response head, less the time the
   * client itself spends sending its body over an established upstream connection.
   */
  readonly timeoutMs: number;
  readonly isDraining: () => boolean;
  readonly onUpstreamError: ((req: IncomingMessage, kind: UpstreamFault) => void) | undefined;
  readonly onUpstreamResponse: ((req: IncomingMessage) => void) | undefined;
  /**
   * Sends the flight's request upstream again on a new connection of its own; called at most once
   * per flight, for a stale keep-alive connection (stale-retry.ts).
   */
  readonly resend: (flight: WebFlight) => void;
}

export class WebFlight implements RequestOwner {
  private timer: NodeJS.Timeout;
  /** The latest upstream request, once http-proxy made it. */
  private proxyReq: ClientRequest | undefined;
  /** The answer is decided (head passed on, fault answered, client gone): nothing else writes. */
  private settled = false;
  /** The upstream's head went out; a fault now can only cut the body short. */
  private streaming = false;
  private clientGone = false;
  private reported = false;
  /** The socket of the latest upstream request, once it got one. */
  private use: SocketUse | undefined;
  private resent = false;

  /**
   * `path` and `headers` are what the upstream is sent (kept for a resend); `requestId` is
   * echoed to the client as X-Request-Id on every answer.
   */
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly hooks: FlightHooks,
    readonly path: string,
    readonly headers: readonly string[],
    private readonly requestId: string | undefined,
  ) {
    // Started before http-proxy asks the pool for a socket, so waiting for one counts.
    this.timer = setTimeout(() => this.timedOut(), hooks.timeoutMs);
    // A response closes once: `on` spares the wrapper `once` would allocate.
    res.on('close', () => this.closed());
  }

  /** The upstream agent calls it with each upstream request as it is made. */
  adopt(proxyReq: ClientRequest): void {
    this.proxyReq = proxyReq;
  }

  /** Destroys the upstream request, whether it is queued, sending or receiving. */
  private abortUpstream(): void {
    this.proxyReq?.destroy();
  }

  /**
   * http-proxy's 'proxyReq': the upstream request got its socket. (http-proxy skips it when the
   * request's header map holds `Expect`; the gateway's header blocks are arrays, not maps, so it
   * comes for every request.)
   */
  attach(proxyReq: ClientRequest): void {
    this.proxyReq = proxyReq;
    this.use = socketUse(proxyReq);
  }

  /** http-proxy's 'proxyRes': the upstream's response head arrived. */
  respond(proxyRes: IncomingMessage): void {
    if (this.settled) {
      proxyRes.destroy();
      return;
    }
    this.settled = true;
    clearTimeout(this.timer);
    this.hooks.onUpstreamResponse?.(this.req);
    try {
      writeResponseHead(this.res, proxyRes, this.requestId, this.hooks.isDraining());
    } catch {
      // A status line or header Node will not write is a broken answer, not a reason to crash.
      proxyRes.destroy();
      this.report('reset');
      this.answerFault('reset');
      return;
    }
    this.streaming = true;
    // With no listener Node swallows the error of a body cut short, and the client would wait
    // for bytes that never come (http-proxy pipes and forgets).
    proxyRes.on('error', () => this.bodyBroken());
    forwardBody(proxyRes, this.res);
  }

  /** http-proxy's 'error' for this request, from the upstream request or the client's request. */
  fail(error: Error): void {
    if (this.clientGone || this.req.socket.destroyed) {
      // The client's side broke: nobody to answer and not the upstream's fault.
      this.abortUpstream();
      return;
    }
    if (this.streaming) return this.bodyBroken();
    if (this.settled) return; // our own abort after a timeout, echoing back
    if (!this.resent && isStaleSocketFailure(this.req, this.use, error)) {
      // Once only: an upstream that resets every connection is answered 502 after one resend,
      // not looped on. The timer runs on: upstream.timeout is the deadline of the whole request.
      this.resent = true;
      this.use = undefined;
      this.hooks.resend(this);
      return;
    }
    this.settled = true;
    clearTimeout(this.timer);
    this.abortUpstream();
    const fault = classifyFault(error);
    this.report(fault);
    this.answerFault(fault);
  }

  private timedOut(): void {
    if (this.settled) return;
    if (this.uploading()) {
      // A slow client is not a slow upstream: the wait for an answer starts once the body is in.
      // A client that stops sending is cut by listen.request_timeout, which ends this flight.
      this.req.once('end', () => {
        this.timer = setTimeout(() => this.timedOut(), this.hooks.timeoutMs);
      });
      return;
    }
    this.settled = true;
    this.abortUpstream();
    this.report('timeout');
    this.answerFault('timeout');
  }

  private answerFault(fault: UpstreamFault): void {
    answerFault(this.res, fault, this.requestId, this.hooks.isDraining());
  }

  /** The client is still streaming its body over a connected upstream request. */
  private uploading(): boolean {
    const socket = this.proxyReq?.socket;
    return !this.req.complete && socket != null && !socket.connecting && !socket.destroyed;
  }

  private bodyBroken(): void {
    if (this.clientGone) return;
    this.report('reset');
    // The head is out, so no error answer is possible: a broken connection is the only honest one.
    this.res.destroy();
  }

  private closed(): void {
    clearTimeout(this.timer);
    if (this.res.writableFinished) return;
    // The client hung up first. http-proxy only aborts on the request's 'aborted', which Node 16+
    // does not emit once the request body was read (any GET), so the upstream request would run on.
    this.clientGone = true;
    this.settled = true;
    this.abortUpstream();
  }

  private report(kind: UpstreamFault): void {
    if (this.reported) return;
    this.reported = true;
    try {
      this.hooks.onUpstreamError?.(this.req, kind);
    } catch {
      // The hook is the caller's bookkeeping; its failure must not take the process down from
      // inside an event handler, and the client is answered either way.
    }
  }
}
