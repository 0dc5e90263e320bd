// One request on its way through the proxy, from web() until it is over: the upstream request it
// makes, the upstream.timeout timer, the idle timers on the client's side (body, send), the one
// retry of a stale keep-alive connection, and the rule that a request is answered exactly once and
// each upstream fault reported once.
import type { Agent, ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../http/send.js';
import {
  answerFault,
  causeOf,
  classifyFault,
  INVALID_RESPONSE,
  RESPONSE_TIMEOUT,
  type UpstreamFault,
} from './faults.js';
import { forwardBody } from './forward-body.js';
import { writeResponseHead } from './response-head.js';
import { hasBody, isStaleSocketFailure, socketUse, type SocketUse } from './stale-retry.js';
import type { UpstreamTarget } from './target.js';
import { requestUpstream } from './upstream-request.js';

/** An idle timeout on the client's side of a proxied exchange, as reported to `onBound`. */
export type IdleBound = 'body_timeout' | 'send_timeout' | 'tunnel_idle_timeout';

export interface FlightHooks {
  readonly target: UpstreamTarget;
  /**
   * upstream.timeout in ms: from web() until the upstream's response head, less the time the
   * client itself spends sending its body over an established upstream connection.
   */
  readonly timeoutMs: number;
  /** The longest the client may pause between two body bytes the gateway is ready to read. */
  readonly bodyTimeoutMs: number;
  /** The longest a client may leave bytes the gateway has for it unread. */
  readonly sendTimeoutMs: number;
  readonly isDraining: () => boolean;
  readonly onUpstreamError:
    ((req: IncomingMessage, kind: UpstreamFault, cause: string) => void) | undefined;
  readonly onUpstreamResponse: ((req: IncomingMessage) => void) | undefined;
  readonly onIdleBound: ((req: IncomingMessage, bound: IdleBound) => void) | undefined;
  /**
   * Sends the flight's request upstream again on a new connection of its own; called at most once
   * per flight, for a stale keep-alive connection (stale-retry.ts).
   */
  readonly resend: (flight: WebFlight) => void;
}

const BODY_TIMEOUT = { detail: 'The request body stopped arriving. Please try again.' };

export class WebFlight {
  private timer: NodeJS.Timeout;
  private bodyTimer: NodeJS.Timeout | undefined;
  /** The latest upstream request. */
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
    // Started before the request asks the pool for a socket, so waiting for one counts.
    this.timer = setTimeout(() => this.timedOut(), hooks.timeoutMs);
    // A response closes once: `on` spares the wrapper `once` would allocate.
    res.on('close', () => this.closed());
  }

  /** Sends the request upstream through `agent`, with `headers` (the flight's own by default). */
  send(agent: Agent, headers: readonly string[] = this.headers): void {
    const { req } = this;
    const proxyReq = requestUpstream(
      this.hooks.target,
      agent,
      req.method ?? 'GET',
      this.path,
      headers,
    );
    this.proxyReq = proxyReq;
    proxyReq.on('socket', () => (this.use = socketUse(proxyReq)));
    proxyReq.on('response', (proxyRes: IncomingMessage) => this.respond(proxyReq, proxyRes));
    proxyReq.on('error', (error) => this.fail(proxyReq, error));
    if (!hasBody(req)) {
      proxyReq.end();
      return;
    }
    // Only a request with a body is sent once (stale-retry.ts): these run for the first send.
    req.on('error', (error) => this.fail(proxyReq, error));
    req.pipe(proxyReq);
    if (!req.complete) this.watchBody();
  }

  /**
   * Cuts a client that stops sending its body (nginx `client_body_timeout`): while its upload
   * streams into an upstream connection, that connection is the client's to hold. Time the
   * gateway itself holds the body back (backpressure, a queued request) does not count.
   */
  private watchBody(): void {
    const { req } = this;
    const limitMs = this.hooks.bodyTimeoutMs;
    let lastMs = performance.now();
    req.on('data', () => (lastMs = performance.now()));
    const check = () => {
      if (req.complete || this.clientGone) return;
      const nowMs = performance.now();
      if (req.readableFlowing === false) lastMs = nowMs;
      const idleMs = nowMs - lastMs;
      if (idleMs < limitMs) {
        this.bodyTimer = setTimeout(check, limitMs - idleMs);
        return;
      }
      this.bodyStalled();
    };
    this.bodyTimer = setTimeout(check, limitMs);
  }

  private bodyStalled(): void {
    this.hooks.onIdleBound?.(this.req, 'body_timeout');
    this.abortUpstream();
    if (this.settled) {
      this.res.destroy();
      return;
    }
    this.settled = true;
    clearTimeout(this.timer);
    const headers: Record<string, string> = { connection: 'close' };
    if (this.requestId !== undefined) headers['x-request-id'] = this.requestId;
    sendJson(this.res, 408, BODY_TIMEOUT, headers);
    // The rest of the body will not come: once the answer is out, the connection goes.
    this.res.once('finish', () => this.res.destroy());
  }

  /** Destroys the upstream request, whether it is queued, sending or receiving. */
  private abortUpstream(): void {
    this.proxyReq?.destroy();
  }

  /** The upstream's response head arrived. */
  private respond(proxyReq: ClientRequest, proxyRes: IncomingMessage): void {
    if (this.settled || proxyReq !== this.proxyReq) {
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
      this.report('reset', INVALID_RESPONSE);
      this.answerFault('reset');
      return;
    }
    this.streaming = true;
    // With no listener Node swallows the error of a body cut short, and the client would wait
    // for bytes that never come.
    proxyRes.on('error', (error) => this.bodyBroken(error));
    forwardBody(proxyRes, this.res, this.hooks.sendTimeoutMs, () =>
      this.hooks.onIdleBound?.(this.req, 'send_timeout'),
    );
  }

  /** An error of the upstream request, or of the client's request while it streams upstream. */
  private fail(proxyReq: ClientRequest, error: Error): void {
    if (proxyReq !== this.proxyReq) return; // the first try, after its resend went out
    if (this.clientGone || this.req.socket.destroyed) {
      // The client's side broke: nobody to answer and not the upstream's fault.
      this.abortUpstream();
      return;
    }
    if (this.streaming) return this.bodyBroken(error);
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
    this.report(fault, causeOf(error));
    this.answerFault(fault);
  }

  private timedOut(): void {
    if (this.settled) return;
    if (this.uploading()) {
      // A slow client is not a slow upstream: the wait for an answer starts once the body is in.
      // A client that stops sending is cut by listen.body_timeout, which ends this flight.
      this.req.once('end', () => {
        this.timer = setTimeout(() => this.timedOut(), this.hooks.timeoutMs);
      });
      return;
    }
    this.settled = true;
    this.abortUpstream();
    this.report('timeout', RESPONSE_TIMEOUT);
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

  private bodyBroken(error: Error): void {
    if (this.clientGone) return;
    this.report('reset', causeOf(error));
    // The head is out, so no error answer is possible: a broken connection is the only honest one.
    this.res.destroy();
  }

  private closed(): void {
    clearTimeout(this.timer);
    clearTimeout(this.bodyTimer);
    if (this.res.writableFinished) return;
    // The client hung up first (or was cut): the upstream request must not run on.
    this.clientGone = true;
    this.settled = true;
    this.abortUpstream();
  }

  private report(kind: UpstreamFault, cause: string): void {
    if (this.reported) return;
    this.reported = true;
    try {
      this.hooks.onUpstreamError?.(this.req, kind, cause);
    } catch {
      // The hook is the caller's bookkeeping; its failure must not take the process down from
      // inside an event handler, and the client is answered either way.
    }
  }
}
