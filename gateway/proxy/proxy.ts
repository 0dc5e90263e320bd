// The gateway's one way to the upstream: each request and WebSocket upgrade goes out through one
// plain http.request (upstream-request.ts), streamed both ways, and is followed to its end by a
// flight (web-flight.ts, ws-flight.ts), so the rest of the gateway hands a request over and
// forgets it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressSet } from '../client-ip/cidr.js';
import type { Config } from '../config/schema.js';
import type { UpstreamFault } from './faults.js';
import { createPeerLookup } from './peer.js';
import { upstreamRequestHeaders } from './request-headers.js';
import { parseUpstreamTarget, upstreamPath } from './target.js';
import { createUpstreamAgent } from './upstream-agent.js';
import { WebFlight, type FlightHooks, type IdleBound } from './web-flight.js';
import { WsFlight, type TunnelHooks } from './ws-flight.js';

export type { UpstreamFault } from './faults.js';
export type { IdleBound } from './web-flight.js';

/** Idle timeouts on the client's side of a proxied exchange, in ms (the `listen` section). */
export interface ClientTimeouts {
  /** listen.body_timeout: the longest pause between two request body bytes. */
  readonly bodyMs: number;
  /** listen.send_timeout: the longest a client may leave the response unread. */
  readonly sendMs: number;
  /** listen.tunnel_idle_timeout: the longest a WebSocket tunnel may carry nothing. */
  readonly tunnelIdleMs: number;
}

export interface UpstreamProxyOptions {
  /** The `upstream` section of the config (durations in ms). */
  readonly upstream: Config['upstream'];
  readonly clientTimeouts: ClientTimeouts;
  /** Trusted proxies in front of the gateway: their X-Forwarded-Proto and -Host are kept. */
  readonly trusted: AddressSet;
  /** True while the gateway drains: responses then carry `Connection: close`. */
  readonly isDraining: () => boolean;
  /**
   * Called once per request for an upstream fault: answered 502/504, or a response cut short.
   * `cause` names it for the log (ECONNREFUSED, UPSTREAM_RESPONSE_TIMEOUT…; faults.ts).
   */
  readonly onUpstreamError?: (req: IncomingMessage, kind: UpstreamFault, cause: string) => void;
  /** Called when the upstream's response head arrives (before it is passed on). Must not throw. */
  readonly onUpstreamResponse?: (req: IncomingMessage) => void;
  /** Called when a client-side idle timeout cuts an exchange. Must not throw. */
  readonly onIdleBound?: (req: IncomingMessage, bound: IdleBound) => void;
  /** The upstream answered an upgrade (101: a tunnel opened). Must not throw. */
  readonly onUpgradeAnswered?: (req: IncomingMessage, status: number) => void;
  /** A tunnel closed. Must not throw. */
  readonly onTunnelClosed?: (req: IncomingMessage) => void;
}

export interface UpstreamProxy {
  /**
   * Proxies one request and answers it: the upstream's response, 502 or 504. `requestId` goes to
   * the upstream and back to the client as X-Request-Id. Never throws.
   */
  web(req: IncomingMessage, res: ServerResponse, requestId?: string): void;
  /**
   * Proxies a WebSocket upgrade: a tunnel, or the upstream's refusal passed on; on any failure
   * the client socket is destroyed. Never throws.
   */
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, requestId?: string): void;
  /** Destroys the keep-alive pool; call once no request is in flight any more. */
  close(): void;
}

export function createUpstreamProxy(options: UpstreamProxyOptions): UpstreamProxy {
  const { upstream, isDraining, clientTimeouts } = options;
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

  const hooks: FlightHooks & TunnelHooks = {
    target,
    timeoutMs: upstream.timeout,
    bodyTimeoutMs: clientTimeouts.bodyMs,
    sendTimeoutMs: clientTimeouts.sendMs,
    tunnelIdleTimeoutMs: clientTimeouts.tunnelIdleMs,
    isDraining,
    onUpstreamError: options.onUpstreamError,
    onUpstreamResponse: options.onUpstreamResponse,
    onIdleBound: options.onIdleBound,
    onUpgradeAnswered: options.onUpgradeAnswered,
    onTunnelClosed: options.onTunnelClosed,
    resend(flight) {
      // `Connection: close` keeps the agent from handing this socket to a queued resend.
      flight.send(freshAgent, [...flight.headers, 'connection', 'close']);
    },
  };

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
      new WebFlight(req, res, hooks, path, headers, requestId).send(agent);
    },

    ws(req, socket, head, requestId) {
      const peer = peerOf(req.socket);
      // Checked first so no upstream work starts for what cannot become a WebSocket tunnel.
      if (
        !peer ||
        socket.destroyed ||
        req.method !== 'GET' ||
        req.headers.upgrade?.toLowerCase() !== 'websocket'
      ) {
        socket.on('error', () => {}).destroy();
        return;
      }
      const path = upstreamPath(target.basePath, req.url ?? '/');
      const headers = upstreamRequestHeaders(req, peer, requestId, wsHeaders);
      new WsFlight(req, socket, head, hooks).send(agent, path, headers);
    },

    close() {
      agent.destroy();
      freshAgent.destroy();
    },
  };
}
