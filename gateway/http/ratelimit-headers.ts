// The IETF draft RateLimit headers (draft-ietf-httpapi-ratelimit-headers): which policies apply to
// a request, and what the client has left in the tightest one. Off unless `throttle.headers`.
import type { ServerResponse } from 'node:http';
import type { Quota, WindowLimit } from '../limiter/store.js';

const policyName = (limit: WindowLimit): string => (limit.id === '' ? 'default' : limit.id);

export function setRateLimitHeaders(
  res: ServerResponse,
  limits: readonly WindowLimit[],
  quota: Quota,
  nowMs: number,
): void {
  res.setHeader(
    'ratelimit-policy',
    limits
      .map((l) => `"${policyName(l)}";q=${l.limit};w=${Math.ceil(l.windowMs / 1000)}`)
      .join(', '),
  );
  const tightest = limits[quota.index];
  if (!tightest) return;
  // The sliding window has no hard reset; the current bucket's end is when the oldest counted
  // requests start to weigh less.
  const resetS = Math.ceil((tightest.windowMs - (nowMs % tightest.windowMs)) / 1000);
  res.setHeader('ratelimit', `"${policyName(tightest)}";r=${quota.remaining};t=${resetS}`);
}
