// Bounds how much of the upstream one client holds at a time (nginx `limit_conn` is the model):
// proxied requests and WebSocket tunnels in flight per client, never more than half the pool. A
// client that stalls its uploads or leaves its downloads unread then cannot keep anyone else
// from being served, on any path, exempt ones included; the next one gets 503 with Retry-After.
// A trusted proxy's own requests (a storefront's server-side fetches carry no client address)
// are not bounded: they are everyone's.
import type { IncomingMessage } from 'node:http';
import { closeWhenFlushed, rawAnswer } from '../http/close-when-flushed.js';
import { sendJson } from '../http/send.js';
import type { UpstreamProxy } from './proxy.js';

export interface ClientShareOptions {
  /** upstream.max_requests_per_client */
  readonly limit: number;
  /** upstream.max_sockets */
  readonly maxSockets: number;
  /**
   * The key the client is counted under (the limiter's client key); undefined for a request that
   * is not bounded (one a trusted proxy makes itself).
   */
  readonly clientOf: (req: IncomingMessage) => string | undefined;
  /** Called for each request or upgrade refused. Must not throw. */
  readonly onRefused?: (req: IncomingMessage) => void;
  /** How long a refused upgrade's answer may wait for a client that does not read it. */
  readonly sendTimeoutMs: number;
}

/** The per-client bound in force: the configured one, but never more than half the pool. */
export function clientShare(limit: number, maxSockets: number): number {
  return Math.min(limit, Math.max(1, Math.floor(maxSockets / 2)));
}

const RETRY_AFTER_S = '1';
const BUSY = { detail: 'Too many requests at once from this client. Please try again shortly.' };
const BUSY_UPGRADE = rawAnswer(503, `retry-after: ${RETRY_AFTER_S}\r\n`);

/** `proxy`, with each client held to its share; the count lives as long as the proxy. */
export function limitPerClient(proxy: UpstreamProxy, options: ClientShareOptions): UpstreamProxy {
  const share = clientShare(options.limit, options.maxSockets);
  const held = new Map<string, number>();
  const take = (key: string): boolean => {
    const count = held.get(key) ?? 0;
    if (count >= share) return false;
    held.set(key, count + 1);
    return true;
  };
  const give = (key: string): void => {
    const count = held.get(key) ?? 1;
    if (count <= 1) held.delete(key);
    else held.set(key, count - 1);
  };
  return {
    web(req, res, requestId) {
      // Gone already: its 'close' may have passed, and the proxy only tidies up.
      if (res.destroyed) return proxy.web(req, res, requestId);
      const key = options.clientOf(req);
      if (key === undefined) return proxy.web(req, res, requestId);
      if (!take(key)) {
        options.onRefused?.(req);
        // Closed after the answer: a body the gateway will not read must not hold the connection.
        const headers: Record<string, string> = {
          'retry-after': RETRY_AFTER_S,
          connection: 'close',
        };
        if (requestId !== undefined) headers['x-request-id'] = requestId;
        return sendJson(res, 503, BUSY, headers);
      }
      // A response closes once, however it ends (answered, cut, or the client gone): `on` spares
      // the wrapper `once` would allocate.
      res.on('close', () => give(key));
      proxy.web(req, res, requestId);
    },
    ws(req, socket, head, requestId) {
      if (socket.destroyed) return proxy.ws(req, socket, head, requestId);
      const key = options.clientOf(req);
      if (key === undefined) return proxy.ws(req, socket, head, requestId);
      if (!take(key)) {
        options.onRefused?.(req);
        socket.on('error', () => socket.destroy());
        return closeWhenFlushed(socket, options.sendTimeoutMs, BUSY_UPGRADE);
      }
      socket.once('close', () => give(key));
      proxy.ws(req, socket, head, requestId);
    },
    close: () => proxy.close(),
  };
}
