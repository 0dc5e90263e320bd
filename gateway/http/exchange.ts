// What the gateway learns about one request on its way through, kept on the request object so the
// captcha app (Koa) and the proxy can report back to the one place that logs and counts.
import type { IncomingMessage } from 'node:http';
import type { ClientIdentity } from '../client-ip/resolve.js';
import type { Outcome } from '../metrics.js';

/**
 * Who a request is counted as: its address (as resolved behind trusted proxies), the clearance it
 * carries, or the own traffic of a shared address (no clearance, no client named behind it).
 */
export type Holder = 'address' | 'clearance' | 'shared';

export interface Exchange {
  readonly client: ClientIdentity;
  /** What the limiter counts and the log names: `client.key`, `clearance:<id>` or `shared:…`. */
  key: string;
  holder: Holder;
  /** X-Request-Id: the client's (when sane) or generated; forwarded upstream and echoed back. */
  readonly requestId: string;
  /** performance.now() when the request arrived (ms, monotonic; a double, no BigInt to allocate). */
  readonly startMs: number;
  /** performance.now() when the upstream's response head arrived; 0 when it did not. */
  upstreamMs: number;
  outcome: Outcome;
}

const EXCHANGE = Symbol('captcha-gateway.exchange');
type Carrier = IncomingMessage & { [EXCHANGE]?: Exchange };

export function attachExchange(req: IncomingMessage, exchange: Exchange): Exchange {
  (req as Carrier)[EXCHANGE] = exchange;
  return exchange;
}

/** The exchange the gateway attached, if any. */
export function findExchange(req: IncomingMessage): Exchange | undefined {
  return (req as Carrier)[EXCHANGE];
}

/** The exchange the gateway attached; every request that reaches a handler has one. */
export function exchangeOf(req: IncomingMessage): Exchange {
  const exchange = (req as Carrier)[EXCHANGE];
  if (!exchange) throw new Error('request reached a handler without an exchange');
  return exchange;
}
