// Wraps a Store so its failures are counted and logged once per outage (a start line and an end
// line, never one per request), while each failure still reaches the caller's policy.
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Store } from './store.js';

export function guardStore(
  store: Store,
  { log, metrics }: { log: Logger; metrics: Metrics },
): Store {
  let outageSinceMs = 0;

  const failed = (error: unknown): never => {
    metrics.storeErrors.inc();
    if (outageSinceMs === 0) {
      outageSinceMs = Date.now();
      log.error({ event: 'store_unavailable', err: error }, 'the store does not answer');
    }
    throw error;
  };
  const answered = <T>(value: T): T => {
    if (outageSinceMs !== 0) {
      log.info(
        { event: 'store_recovered', outage_ms: Date.now() - outageSinceMs },
        'the store answers again',
      );
      outageSinceMs = 0;
    }
    return value;
  };
  const guard = <T>(call: Promise<T>): Promise<T> => call.then(answered, failed);

  return {
    hit: (client, limits, blockMs, nowMs, quota) =>
      guard(store.hit(client, limits, blockMs, nowMs, quota)),
    attempt: (client, limit, nowMs) => guard(store.attempt(client, limit, nowMs)),
    throttledUntil: (client, nowMs) => guard(store.throttledUntil(client, nowMs)),
    throttle: (client, untilMs) => guard(store.throttle(client, untilMs)),
    release: (client) => guard(store.release(client)),
    throttled: (cursor, count, nowMs) => guard(store.throttled(cursor, count, nowMs)),
    countThrottled: (nowMs) => guard(store.countThrottled(nowMs)),
    ping: () => guard(store.ping()),
    close: () => store.close(),
  };
}
