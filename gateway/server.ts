// Builds the gateway: the public server whose request path reads top to bottom in `handle`, and
// the admin server. The one place where the order of steps is fixed.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createAdminApp } from './admin/app.js';
import { createCaptchaApp } from './captcha/app.js';
import { AddressSet } from './client-ip/cidr.js';
import { createClientResolver } from './client-ip/resolve.js';
import type { Config } from './config/schema.js';
import { createCsrfTokens } from './csrf/tokens.js';
import { attachExchange, exchangeOf, type Exchange } from './http/exchange.js';
import { sendJson } from './http/send.js';
import { answerThrottled } from './http/throttled.js';
import type { WindowLimit, Store } from './limiter/store.js';
import { createStore } from './limiter/create-store.js';
import { guardStore } from './limiter/guarded-store.js';
import type { Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { decide, type Decision } from './policy/decide.js';
import { compileRoutes } from './policy/routes.js';
import { createUpstreamProxy } from './proxy/proxy.js';
import { trackConnections } from './http/connections.js';

export interface GatewayOptions {
  readonly config: Config;
  readonly log: Logger;
  /** Epoch milliseconds; tests inject their own clock. */
  readonly now?: () => number;
  readonly store?: Store;
  readonly metrics?: Metrics;
}

export interface Gateway {
  readonly config: Config;
  readonly store: Store;
  readonly metrics: Metrics;
  /** Starts both servers; resolves with the ports bound (useful with port 0). */
  listen(): Promise<{ publicPort: number; adminPort: number }>;
  /** Graceful shutdown (CONTRACT §9): not ready, no new connections, in-flight requests finish. */
  shutdown(): Promise<void>;
}

const STORE_UNAVAILABLE = { detail: 'The service is briefly unavailable. Please try again.' };

export function createGateway(options: GatewayOptions): Gateway {
  const { config, log } = options;
  const now = options.now ?? Date.now;
  const metrics = options.metrics ?? createMetrics();
  const store = guardStore(options.store ?? createStore(config), { log, metrics });
  const trusted = new AddressSet(config.client_ip.trusted_proxies);
  const resolveClient = createClientResolver({
    header: config.client_ip.header,
    trusted,
    ipv6Prefix: config.client_ip.ipv6_prefix,
  });
  const classify = compileRoutes(config, new AddressSet(config.throttle.exempt.clients));
  const policy = { mode: config.throttle.mode, onStoreError: config.store.redis.on_error };
  const blockMs = config.throttle.block;
  const redirectPath = config.captcha.redirect_path;
  let draining = false;

  const proxy = createUpstreamProxy({
    upstream: config.upstream,
    trusted,
    isDraining: () => draining,
    onUpstreamError: (req) => {
      exchangeOf(req).outcome = 'upstream_error';
    },
  });
  const csrf = createCsrfTokens({ secret: config.csrf.secret, ttlMs: config.csrf.ttl, now });
  const captcha = createCaptchaApp({ config, store, metrics, csrf, now, log }).callback();

  /** Asks the store once; a store failure is a fact for the policy, not an exception. */
  async function ask(client: string, limits: readonly WindowLimit[], nowMs: number) {
    try {
      return await store.hit(client, limits, blockMs, nowMs);
    } catch {
      return null; // counted and logged once per outage by guardStore
    }
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const exchange = begin(req, res);
    if (draining) res.setHeader('connection', 'close');
    const route = classify(req.method ?? 'GET', req.url ?? '/', exchange.client.address);
    switch (route.kind) {
      case 'captcha':
        exchange.outcome = 'captcha_page';
        void captcha(req, res);
        return;
      case 'exempt':
        exchange.outcome = 'exempt';
        proxy.web(req, res);
        return;
      case 'counted': {
        const nowMs = now();
        void ask(exchange.client.key, route.limits, nowMs).then((until) => {
          const decision = decide({ throttledUntilMs: until, nowMs }, policy);
          act(decision, exchange, req, res);
        });
        return;
      }
    }
  }

  function act(decision: Decision, exchange: Exchange, req: IncomingMessage, res: ServerResponse) {
    switch (decision.kind) {
      case 'proxy':
        exchange.outcome = decision.outcome;
        proxy.web(req, res);
        return;
      case 'intercept':
        exchange.outcome = 'throttled';
        answerThrottled(req, res, redirectPath, decision.retryAfterS);
        return;
      case 'unavailable':
        exchange.outcome = 'throttled';
        sendJson(res, 503, STORE_UNAVAILABLE, { 'retry-after': '5' });
        return;
    }
  }

  function begin(req: IncomingMessage, res: ServerResponse): Exchange {
    const client = resolveClient(req.socket.remoteAddress, req.headers);
    const exchange = attachExchange(req, {
      client,
      startNs: process.hrtime.bigint(),
      outcome: 'proxied',
    });
    res.once('close', () => finish(exchange, req, res));
    return exchange;
  }

  function finish(exchange: Exchange, req: IncomingMessage, res: ServerResponse): void {
    const seconds = Number(process.hrtime.bigint() - exchange.startNs) / 1e9;
    metrics.requests.inc({ outcome: exchange.outcome });
    metrics.duration.observe({ outcome: exchange.outcome }, seconds);
    if (!log.isLevelEnabled('info')) return;
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    log.info({
      event: 'request',
      client: exchange.client.key,
      method: req.method,
      path: query === -1 ? url : url.slice(0, query),
      status: res.writableFinished ? res.statusCode : 0,
      outcome: exchange.outcome,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
    });
  }

  /** A WebSocket upgrade takes the same path as a request, and counts as one. */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const client = resolveClient(req.socket.remoteAddress, req.headers);
    const exchange = attachExchange(req, {
      client,
      startNs: process.hrtime.bigint(),
      outcome: 'proxied',
    });
    socket.once('close', () => metrics.requests.inc({ outcome: exchange.outcome }));
    const route = classify(req.method ?? 'GET', req.url ?? '/', client.address);
    switch (route.kind) {
      case 'captcha':
        exchange.outcome = 'captcha_failed';
        return refuseUpgrade(socket, 400, 'Bad Request');
      case 'exempt':
        exchange.outcome = 'exempt';
        return proxy.ws(req, socket, head);
      case 'counted': {
        const nowMs = now();
        void ask(client.key, route.limits, nowMs).then((until) => {
          const decision = decide({ throttledUntilMs: until, nowMs }, policy);
          switch (decision.kind) {
            case 'proxy':
              exchange.outcome = decision.outcome;
              return proxy.ws(req, socket, head);
            case 'intercept':
              exchange.outcome = 'throttled';
              return refuseUpgrade(socket, 429, 'Too Many Requests');
            case 'unavailable':
              exchange.outcome = 'throttled';
              return refuseUpgrade(socket, 503, 'Service Unavailable');
          }
        });
        return;
      }
    }
  }

  const publicServer = http.createServer(
    {
      headersTimeout: config.listen.headers_timeout,
      requestTimeout: config.listen.request_timeout,
      keepAliveTimeout: config.listen.keep_alive_timeout,
      // Node checks the two timeouts above on this interval; its 30 s default would let a
      // slowloris client hold a socket well past headers_timeout.
      connectionsCheckingInterval: Math.min(1000, config.listen.headers_timeout),
    },
    handle,
  );
  publicServer.on('upgrade', upgrade);
  publicServer.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text = status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  const connections = trackConnections(publicServer);

  const adminServer = http.createServer(
    createAdminApp({
      token: config.admin.token,
      metrics,
      isReady: async () => {
        if (draining || !publicServer.listening) return false;
        if (policy.onStoreError === 'allow') return true;
        return store.ping().then(
          () => true,
          () => false,
        );
      },
    }).callback(),
  );

  return {
    config,
    store,
    metrics,
    async listen() {
      await listenOn(publicServer, config.listen.host, config.listen.port);
      await listenOn(adminServer, config.admin.host, config.admin.port);
      return { publicPort: portOf(publicServer), adminPort: portOf(adminServer) };
    },
    async shutdown() {
      draining = true;
      const closed = new Promise<void>((resolve) => publicServer.close(() => resolve()));
      publicServer.closeIdleConnections();
      const graceful = await connections.drained(config.listen.drain_timeout);
      if (!graceful) publicServer.closeAllConnections();
      await closed;
      proxy.close();
      await new Promise<void>((resolve) => adminServer.close(() => resolve()));
      adminServer.closeAllConnections();
      await store.close();
    },
  };
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncache-control: no-store\r\ncontent-length: 0\r\n\r\n`,
  );
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
