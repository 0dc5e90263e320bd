// Builds the gateway: the public server whose request path reads top to bottom in `handle`, and
// the admin server. The one place where the order of steps is fixed.
import { randomUUID } from 'node:crypto';
import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { createAdminApp } from './admin/app.js';
import type { Config } from './config/schema.js';
import { limitClientConnections } from './http/client-connections.js';
import { closeWhenFlushed, rawAnswer } from './http/close-when-flushed.js';
import { trackConnections } from './http/connections.js';
import { attachExchange, exchangeOf, findExchange, type Exchange } from './http/exchange.js';
import { framingProblem, overriddenMethods } from './http/framing.js';
import { sendJson } from './http/send.js';
import { setRateLimitHeaders } from './http/ratelimit-headers.js';
import { answerThrottled } from './http/throttled.js';
import { createStore } from './limiter/create-store.js';
import { guardStore } from './limiter/guarded-store.js';
import type { Quota, Store, WindowLimit } from './limiter/store.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { buildPipeline, keysNeedingRestart, type Pipeline } from './pipeline.js';
import { decide, type Decision } from './policy/decide.js';
import { replayWithoutUpgrade } from './http/replay-request.js';
import type { Route } from './policy/routes.js';
import { createSigningKey } from './signing-key.js';

export interface GatewayOptions {
  readonly config: Config;
  readonly log: Logger;
  /** Epoch milliseconds; tests inject their own clock. */
  readonly now?: () => number;
  readonly store?: Store;
  readonly metrics?: Metrics;
}

export interface ReloadResult {
  /** Changed keys that keep their running value until a restart. */
  readonly restartNeeded: readonly string[];
}

export interface Gateway {
  /** The config in force (after reloads). */
  readonly config: Config;
  readonly store: Store;
  readonly metrics: Metrics;
  /** Starts both servers; resolves with the ports bound (useful with port 0). */
  listen(): Promise<{ publicPort: number; adminPort: number }>;
  /** Takes over a new, validated config without dropping a connection; state survives. */
  reload(next: Config): ReloadResult;
  /** Graceful shutdown: not ready, no new connections, in-flight requests finish. */
  shutdown(): Promise<void>;
}

const STORE_UNAVAILABLE = { detail: 'The service is briefly unavailable. Please try again.' };
const REFUSALS = {
  400: { detail: 'Bad request.' },
  431: { detail: 'Too many header lines.' },
} as const;

/** A route, or a request refused before it is classified (http/framing.ts). */
type Triage = Route | { readonly kind: 'refused'; readonly status: keyof typeof REFUSALS };
const NO_HEADERS: IncomingHttpHeaders = {};
const CONNECT_REFUSED = rawAnswer(405, 'allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n');
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;
/** How long destroyed sockets get to close (a loop turn or two; bounded all the same). */
const CUT_SOCKETS_CLOSE_MS = 1000;

export function createGateway(options: GatewayOptions): Gateway {
  const { log } = options;
  const now = options.now ?? Date.now;
  const metrics = options.metrics ?? createMetrics();
  const store = guardStore(options.store ?? createStore(options.config, log), { log, metrics });
  metrics.countThrottledWith(() => store.countThrottled(now()));
  let draining = false;
  /** Set when drain_timeout has passed: the requests still open are cut, and logged as such. */
  let cutAtDrain = false;

  const deps = {
    store,
    metrics,
    log,
    now,
    signingKey: createSigningKey(),
    isDraining: () => draining,
    onUpstreamError: (req: IncomingMessage, _kind: string, cause: string) => {
      const exchange = exchangeOf(req);
      exchange.outcome = 'upstream_error';
      exchange.upstreamError = cause;
    },
    onUpstreamResponse: (req: IncomingMessage) => {
      exchangeOf(req).upstreamMs = performance.now();
    },
    onBound: (req: IncomingMessage, bound: string) => {
      metrics.bounds.inc({ bound });
      // An upgrade over the client's share is answered 503 on its raw socket (client-share.ts).
      const exchange = findExchange(req);
      if (bound === 'client_upstream_requests' && exchange && req.headers.upgrade !== undefined) {
        exchange.upgradeStatus = 503;
      }
    },
    onUpgradeAnswered: (req: IncomingMessage, status: number) => {
      const exchange = exchangeOf(req);
      exchange.upstreamMs = performance.now();
      exchange.upgradeStatus = status;
      if (status === 101) metrics.tunnelsOpen.inc();
    },
    onTunnelClosed: () => metrics.tunnelsOpen.dec(),
    // A trusted proxy's own requests (no client header) are everyone's: not held to one share.
    // A clearance is its own client here too, so shoppers behind one NAT do not share one share.
    clientOf: (req: IncomingMessage) => {
      const exchange = findExchange(req);
      if (exchange === undefined) return req.socket.remoteAddress ?? '';
      if (exchange.holder === 'clearance') return exchange.key;
      return pipeline.trusted.has(exchange.client.address) ? undefined : exchange.client.key;
    },
  };
  let pipeline: Pipeline = buildPipeline(options.config, deps);

  /** Who is asking and for what: the first, synchronous steps of every request and upgrade. */
  function triage(p: Pipeline, req: IncomingMessage): { exchange: Exchange; route: Triage } {
    const client = p.resolveClient(req.socket.remoteAddress, req.headers);
    // A clearance outranks the address: a shopper who passed the captcha is counted as itself,
    // whoever shares its address. Without one, a shared address's own traffic goes to its budgets.
    const clearance = p.readClearance(req.headers.cookie);
    const group = clearance === undefined ? p.shared.groupOf(client.address) : undefined;
    const exchange = attachExchange(req, {
      client,
      key: clearance ? `clearance:${clearance.id}` : group ? group.key : client.key,
      holder: clearance ? 'clearance' : group ? 'shared' : 'address',
      requestId: requestIdOf(req),
      startMs: performance.now(),
      upstreamMs: 0,
      outcome: 'proxied',
    });
    const problem = framingProblem(req);
    if (problem !== undefined) {
      exchange.outcome = 'refused';
      return { exchange, route: { kind: 'refused', status: problem.status } };
    }
    const method = req.method ?? 'GET';
    const route = p.classify(method, req.url ?? '/', client.address, overriddenMethods(req), group);
    if (route.kind === 'counted') {
      if (route.key !== undefined) exchange.key = route.key;
      else if (clearance) metrics.clearanceRequests.inc();
    }
    return { exchange, route };
  }

  /**
   * Counts a request with one store call and hands the decision on; the outcome is set for
   * proxying. `counted` is false when the store failed (no quota was filled in).
   */
  function count(
    p: Pipeline,
    exchange: Exchange,
    limits: readonly WindowLimit[],
    quota: Quota | undefined,
    proceed: (decision: Decision, nowMs: number, counted: boolean) => void,
  ): void {
    const nowMs = now();
    const decided = (until: number | null): void => {
      const decision = decide({ throttledUntilMs: until, nowMs }, p.policy);
      exchange.outcome = decision.kind === 'proxy' ? decision.outcome : 'throttled';
      proceed(decision, nowMs, until !== null);
    };
    // One store call; its failure is a fact for the policy (on_error), not an exception. It is
    // counted and logged once per outage by guardStore.
    store
      .hit(exchange.key, limits, p.config.throttle.block, nowMs, quota)
      .then(decided, () => decided(null));
  }

  /**
   * `expectsContinue`: the client sent `Expect: 100-continue` and waits for `100 Continue` before
   * its body. It gets one only when the request goes on to the upstream or the captcha app; an
   * answer of the gateway's own (429, 400, 503) comes at once, without it (RFC 9110 §10.1.1), and
   * closes the connection, since the client may or may not send the body then.
   */
  function handle(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    const p = pipeline;
    const { exchange, route } = triage(p, req);
    const { requestId } = exchange;
    if (draining || expectsContinue) res.setHeader('connection', 'close');
    // No closure per request: only a request that asked for 100-continue has anything to do here.
    const goOn = expectsContinue ? () => sendContinue(res, draining) : noop;
    // A response closes once: `on` spares the wrapper `once` would allocate.
    res.on('close', () => finish(exchange, req, res));
    switch (route.kind) {
      case 'refused':
        return sendJson(res, route.status, REFUSALS[route.status], {
          connection: 'close',
          'x-request-id': requestId,
        });
      case 'captcha':
        // The captcha app writes X-Request-Id with its answers.
        exchange.outcome = 'captcha_page';
        goOn();
        void p.captcha(req, res);
        return;
      case 'exempt':
        exchange.outcome = 'exempt';
        goOn();
        return p.proxy.web(req, res, requestId);
      case 'counted': {
        const quota = p.config.throttle.headers ? { remaining: 0, index: 0 } : undefined;
        return count(p, exchange, route.limits, quota, (decision, nowMs, counted) => {
          switch (decision.kind) {
            case 'proxy':
              if (quota && counted) setRateLimitHeaders(res, route.limits, quota, nowMs);
              goOn();
              return p.proxy.web(req, res, requestId);
            case 'intercept':
              return answerThrottled(
                req,
                res,
                p.config.captcha.redirect_path,
                decision.retryAfterS,
                requestId,
              );
            case 'unavailable':
              return sendJson(res, 503, STORE_UNAVAILABLE, {
                'retry-after': '5',
                'x-request-id': requestId,
              });
          }
        });
      }
    }
  }

  function finish(exchange: Exchange, req: IncomingMessage, res: ServerResponse): void {
    const ms = performance.now() - exchange.startMs;
    const seconds = ms / 1e3;
    metrics.requests.record(exchange.outcome, seconds);
    if (!log.isLevelEnabled('info')) return;
    log.info({
      event: 'request',
      request_id: exchange.requestId,
      client: exchange.key,
      method: req.method,
      path: loggedPath(req),
      status: res.writableFinished ? res.statusCode : 0,
      outcome: exchange.outcome,
      cut: cutAtDrain && !res.writableFinished ? 'drain' : undefined,
      duration_ms: roundMs(ms),
      upstream_ms:
        exchange.upstreamMs === 0 ? undefined : roundMs(exchange.upstreamMs - exchange.startMs),
      upstream_error: exchange.upstreamError,
    });
  }

  /**
   * A WebSocket upgrade takes the same path as a request, and counts as one; any other upgrade
   * (h2c) is answered as the plain HTTP/1.1 request it also is, never tunnelled.
   */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!isWebSocketHandshake(req)) return replayWithoutUpgrade(publicServer, req, socket, head);
    const p = pipeline;
    socket.on('error', () => socket.destroy());
    const { exchange, route } = triage(p, req);
    socket.once('close', () => finishUpgrade(exchange, req));
    const refuseUpgrade = (status: number): void => {
      exchange.upgradeStatus = status;
      closeWhenFlushed(socket, listen.send_timeout, rawAnswer(status));
    };
    switch (route.kind) {
      case 'refused':
        exchange.outcome = 'refused';
        return refuseUpgrade(route.status);
      case 'captcha':
        exchange.outcome = 'refused';
        return refuseUpgrade(400);
      case 'exempt':
        exchange.outcome = 'exempt';
        return p.proxy.ws(req, socket, head, exchange.requestId);
      case 'counted':
        return count(p, exchange, route.limits, undefined, (decision) => {
          switch (decision.kind) {
            case 'proxy':
              return p.proxy.ws(req, socket, head, exchange.requestId);
            case 'intercept':
              return refuseUpgrade(429);
            case 'unavailable':
              return refuseUpgrade(503);
          }
        });
    }
  }

  /** A CONNECT (a tunnel to anywhere) is never the shop's: 405, counted and logged as refused. */
  function refuseConnect(req: IncomingMessage, socket: Duplex): void {
    socket.on('error', () => socket.destroy());
    metrics.requests.count('refused');
    // The target (`host:port`, perhaps with userinfo) is not logged.
    log.info({
      event: 'request',
      client: pipeline.resolveClient(req.socket.remoteAddress, req.headers).key,
      method: 'CONNECT',
      status: 405,
      outcome: 'refused',
    });
    closeWhenFlushed(socket, pipeline.config.listen.send_timeout, CONNECT_REFUSED);
  }

  /** One log line per upgrade, when its socket closes: a tunnel's line spans its whole life. */
  function finishUpgrade(exchange: Exchange, req: IncomingMessage): void {
    metrics.requests.count(exchange.outcome);
    if (!log.isLevelEnabled('info')) return;
    log.info({
      event: 'upgrade',
      request_id: exchange.requestId,
      client: exchange.key,
      path: loggedPath(req),
      status: exchange.upgradeStatus ?? 0,
      outcome: exchange.outcome,
      duration_ms: roundMs(performance.now() - exchange.startMs),
      upstream_error: exchange.upstreamError,
    });
  }

  const { listen } = options.config;
  const publicServer = http.createServer(
    {
      headersTimeout: listen.headers_timeout,
      requestTimeout: listen.request_timeout,
      keepAliveTimeout: listen.keep_alive_timeout,
      // Node checks the two timeouts above on this interval; its 30 s default would let a
      // slowloris client hold a socket well past headers_timeout.
      connectionsCheckingInterval: Math.min(1000, listen.headers_timeout),
      // framingProblem answers a missing Host itself, with the headers every gateway answer has.
      requireHostHeader: false,
    },
    handle,
  );
  publicServer.on('upgrade', upgrade);
  publicServer.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
    handle(req, res, true),
  );
  publicServer.on('connect', refuseConnect);
  publicServer.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut) metrics.bounds.inc({ bound: 'request_timeout' });
    // A header block the parser will not hold (past max header size; on Node 24 also a thousand
    // lines of a few bytes) is 431, as Node's own clientError answer has it.
    const status = timedOut ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    // Destroyed once the answer is out: a client that neither sends nor reads nor closes would
    // otherwise keep the socket (and its fd) for as long as it likes.
    closeWhenFlushed(socket, listen.send_timeout, rawAnswer(status));
  });
  const connections = trackConnections(publicServer, (open) => metrics.connectionsOpen.set(open));
  limitClientConnections(publicServer, {
    limit: listen.max_connections_per_client,
    keyOf(remoteAddress) {
      const p = pipeline;
      const peer = p.resolveClient(remoteAddress, NO_HEADERS);
      return p.trusted.has(peer.address) ? undefined : peer.key;
    },
    onRefused: () => metrics.bounds.inc({ bound: 'client_connections' }),
  });

  const adminServer = http.createServer(
    createAdminApp({
      token: () => pipeline.config.admin.token,
      config: () => pipeline.config,
      store,
      now,
      log,
      metrics,
      isReady: async () => {
        if (draining || !publicServer.listening) return false;
        if (pipeline.policy.onStoreError === 'allow') return true;
        return store.ping().then(
          () => true,
          () => false,
        );
      },
    }).callback(),
  );

  return {
    get config() {
      return pipeline.config;
    },
    store,
    metrics,
    async listen() {
      await listenOn(publicServer, listen.host, listen.port);
      await listenOn(adminServer, options.config.admin.host, options.config.admin.port);
      return { publicPort: portOf(publicServer), adminPort: portOf(adminServer) };
    },
    reload(next) {
      const running = pipeline.config;
      const restartNeeded = keysNeedingRestart(running, next);
      const effective: Config = Object.freeze({
        ...next,
        listen: running.listen,
        admin: Object.freeze({ ...next.admin, host: running.admin.host, port: running.admin.port }),
        store: running.store,
        throttle: Object.freeze({
          ...next.throttle,
          max_clients: running.throttle.max_clients,
          max_throttled: running.throttle.max_throttled,
        }),
      });
      const previous = pipeline;
      pipeline = buildPipeline(effective, deps, previous);
      if (pipeline.proxy !== previous.proxy) retire(previous, running.listen.request_timeout);
      return { restartNeeded };
    },
    async shutdown() {
      draining = true;
      const closed = new Promise<void>((resolve) => publicServer.close(() => resolve()));
      publicServer.closeIdleConnections();
      const graceful = await connections.drained(listen.drain_timeout);
      if (!graceful) {
        cutAtDrain = true;
        publicServer.closeAllConnections();
        // WebSocket tunnels and other upgraded sockets are no longer the server's to close.
        connections.destroyAll();
        // Cut sockets close a turn later, and their requests log then: before we return.
        await connections.drained(CUT_SOCKETS_CLOSE_MS);
      }
      await closed;
      pipeline.proxy.close();
      await new Promise<void>((resolve) => adminServer.close(() => resolve()));
      adminServer.closeAllConnections();
      await store.close();
    },
  };
}

const noop = (): void => {};

/** The request goes on: the client waiting with `Expect: 100-continue` may send its body now. */
function sendContinue(res: ServerResponse, draining: boolean): void {
  if (!draining) res.removeHeader('connection');
  res.writeContinue();
}

/** The path a log line names: the query is left out, it may carry tokens or personal data. */
function loggedPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Milliseconds to the microsecond, as log lines write them. */
const roundMs = (ms: number): number => Math.round(ms * 1e3) / 1e3;

/** Requests still on the old upstream pool may run up to request_timeout; then it is closed. */
function retire(previous: Pipeline, afterMs: number): void {
  setTimeout(() => previous.proxy.close(), afterMs).unref();
}

/** The client's X-Request-Id when it is sane, else a new one; the proxy sends it upstream. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** The handshake the gateway tunnels; any other upgrade is a plain request to it. */
function isWebSocketHandshake(req: IncomingMessage): boolean {
  return req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket';
}

function listenOn(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function portOf(server: http.Server): number {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}
