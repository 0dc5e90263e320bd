// The gateway's one way to the upstream (CONTRACT §7): http-proxy 1.18.1 streaming both ways, with
// its known defects fixed here so the rest of the gateway hands a request over and forgets it.
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { AddressSet } from '../client-ip/cidr.js';
import type { Config } from '../config/schema.js';
import type { UpstreamFault } from './faults.js';
import { PinnedOutgoing } from './outgoing.js';
import { createPeerLookup } from './peer.js';
import { upstreamRequestHeaders } from './request-headers.js';
import { hasBody } from './stale-retry.js';
import { parseUpstreamTarget, upstreamPath } from './target.js';
import { createUpstreamAgent } from './upstream-agent.js';
import { WebFlight, type FlightHooks } from './web-flight.js';
import { WsFlight } from './ws-flight.js';

export type { UpstreamFault } from './faults.js';

export interface UpstreamProxyOptions {
  /** The `upstream` section of the config (durations in ms). */
  readonly upstream: Config['upstream'];
  /** Trusted proxies in front of the gateway: their X-Forwarded-Proto and -Host are kept. */
  readonly trusted: AddressSet;
  /** True while the gateway drains (CONTRACT §9): responses then carry `Connection: close`. */
  readonly isDraining: () => boolean;
  /** Called once per request for an upstream fault: answered 502/504, or a response cut short. */
  readonly onUpstreamError?: (req: IncomingMessage, kind: UpstreamFault) => void;
  /** Called when the upstream's response head arrives (before it is passed on). Must not throw. */
  readonly onUpstreamResponse?: (req: IncomingMessage) => void;
}

export interface UpstreamProxy {
  /**
   * Proxies one request and answers it: the upstream's response, 502 or 504. `requestId` goes to
   * the upstream and back to the client as X-Request-Id. Never throws.
   */
  web(req: IncomingMessage, res: ServerResponse, requestId?: string): void;
  /** Proxies a WebSocket upgrade; on any failure the client socket is destroyed. Never throws. */
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, requestId?: string): void;
  /** Destroys the keep-alive pool; call once no request is in flight any more. */
  close(): void;
}

const FLIGHT = Symbol('captcha-gateway.proxy.flight');
type Carrier = IncomingMessage & { [FLIGHT]?: WebFlight | WsFlight };

/**
 * http-proxy's `buffer` option for a request without a body: it pipes `buffer` (else the client
 * request) into the upstream request, and this pipes nothing, at once, sparing a GET the half
 * dozen listeners pipe() puts on both streams and takes off again.
 */
const NO_BODY = { pipe: (upstreamRequest: ClientRequest) => upstreamRequest.end() };

/** http-proxy's per-request options for web(). */
function webOptions(req: IncomingMessage, ssl: PinnedOutgoing): object {
  return hasBody(req) ? { ssl } : { ssl, buffer: NO_BODY };
}

export function createUpstreamProxy(options: UpstreamProxyOptions): UpstreamProxy {
  const { upstream, isDraining } = options;
  const target = parseUpstreamTarget(upstream.url);
  const agent = createUpstreamAgent({
    tls: target.tls,
    maxSockets: upstream.max_sockets,
    connectTimeoutMs: upstream.connect_timeout,
    keepAlive: true,
  });
  // Resends after a stale keep-alive connection (stale-retry.ts) go out on new connections that
  // are never pooled, so no second stale socket can be handed out. Bounded by max_sockets of
  // their own: the upstream sees at most twice max_sockets connections.
  const freshAgent = createUpstreamAgent({
    tls: target.tls,
    maxSockets: upstream.max_sockets,
    connectTimeoutMs: upstream.connect_timeout,
    keepAlive: false,
  });
  const peerOf = createPeerLookup(options.trusted);
  const webHeaders = {
    webSocket: false,
    upstreamHost: target.proxyTarget.host,
    changeOrigin: upstream.change_origin,
  };
  const wsHeaders = { ...webHeaders, webSocket: true };

  const proxy = httpProxy.createProxyServer({
    target: target.proxyTarget,
    // Method, path, headers and pool come pinned (outgoing.ts): X-Forwarded-* and Host are
    // written by upstreamRequestHeaders, which knows whom to trust.
    selfHandleResponse: true,
  });
  dropDeleteLengthPass(proxy);

  const hooks: FlightHooks = {
    timeoutMs: upstream.timeout,
    isDraining,
    onUpstreamError: options.onUpstreamError,
    onUpstreamResponse: options.onUpstreamResponse,
    resend(flight) {
      // `Connection: close` keeps the agent from handing this socket to a queued resend.
      const closing = [...flight.headers, 'connection', 'close'];
      const method = flight.req.method ?? 'GET';
      const ssl = new PinnedOutgoing(target, method, flight.path, closing, freshAgent, flight);
      proxy.web(flight.req, flight.res, webOptions(flight.req, ssl));
    },
  };

  // Without an 'error' listener http-proxy throws the error, out of an event handler: a crash.
  proxy.on('error', (error, req, sink) => {
    const flight = req ? (req as Carrier)[FLIGHT] : undefined;
    if (flight) flight.fail(error);
    else sink?.destroy();
  });
  proxy.on('proxyReq', (proxyReq: ClientRequest, req) => {
    const flight = (req as Carrier)[FLIGHT];
    if (flight instanceof WebFlight) flight.attach(proxyReq);
  });
  proxy.on('proxyRes', (proxyRes, req) => {
    const flight = (req as Carrier)[FLIGHT];
    if (flight instanceof WebFlight) flight.respond(proxyRes);
    else proxyRes.destroy();
  });
  proxy.on('proxyReqWs', (proxyReq: ClientRequest, req) => {
    const flight = (req as Carrier)[FLIGHT];
    if (flight instanceof WsFlight) flight.attach(proxyReq);
  });

  return {
    web(req, res, requestId) {
      const peer = peerOf(req.socket);
      if (!peer || res.destroyed) {
        // The client left while the gateway decided (or has no address left): nobody to answer,
        // and the upstream must not see the request.
        res.destroy();
        return;
      }
      const path = upstreamPath(target.basePath, req.url ?? '/');
      const headers = upstreamRequestHeaders(req, peer, requestId, webHeaders);
      const flight = new WebFlight(req, res, hooks, path, headers, requestId);
      (req as Carrier)[FLIGHT] = flight;
      const method = req.method ?? 'GET';
      const ssl = new PinnedOutgoing(target, method, path, headers, agent, flight);
      proxy.web(req, res, webOptions(req, ssl));
    },

    ws(req, socket, head, requestId) {
      const peer = peerOf(req.socket);
      // http-proxy would destroy the socket too; checked first so no upstream work starts.
      if (
        !peer ||
        socket.destroyed ||
        req.method !== 'GET' ||
        req.headers.upgrade?.toLowerCase() !== 'websocket'
      ) {
        socket.on('error', () => {}).destroy();
        return;
      }
      (req as Carrier)[FLIGHT] = new WsFlight(req, socket, hooks);
      const path = upstreamPath(target.basePath, req.url ?? '/');
      const headers = upstreamRequestHeaders(req, peer, requestId, wsHeaders);
      proxy.ws(req, socket, head, {
        ssl: new PinnedOutgoing(target, 'GET', path, headers, agent, undefined),
      });
    },

    close() {
      agent.destroy();
      freshAgent.destroy();
      proxy.close();
    },
  };
}

type Pass = (...args: unknown[]) => unknown;

/**
 * http-proxy's `deleteLength` pass writes `Content-Length: 0` into req.headers of every DELETE and
 * OPTIONS without one and deletes its Transfer-Encoding; with the body still piped on, that sent a
 * chunked DELETE body unframed, read upstream as the next request (smuggling). The pinned headers
 * no longer come from req.headers, but the pass would still rewrite the client's request object.
 */
function dropDeleteLengthPass(proxy: httpProxy): void {
  const holder = proxy as unknown as { webPasses?: Pass[] };
  const passes = holder.webPasses;
  const index = passes?.findIndex((pass) => pass.name === 'deleteLength') ?? -1;
  if (!passes || index === -1) {
    throw new Error('http-proxy changed: its deleteLength pass is gone; review gateway/proxy');
  }
  passes.splice(index, 1);
}
