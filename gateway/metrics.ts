// The gateway's Prometheus metrics (CONTRACT §11), in a registry of its own per gateway instance.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Outcome =
  | 'proxied'
  | 'throttled'
  | 'exempt'
  | 'captcha_page'
  | 'captcha_passed'
  | 'captcha_failed'
  | 'upstream_error'
  | 'would_throttle';

export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'outcome'>;
  readonly duration: Histogram<'outcome'>;
  readonly siteverify: Counter<'result'>;
  readonly storeErrors: Counter;
  readonly throttledClients: Gauge;
  readonly configReloads: Counter<'result'>;
  /** Where `gateway_throttled_clients` is read from at each scrape (the store). */
  countThrottledWith(source: () => Promise<number>): void;
}

export function createMetrics({ processMetrics = true } = {}): Metrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let countThrottled: (() => Promise<number>) | undefined;
  return {
    registry,
    requests: new Counter({
      name: 'gateway_requests_total',
      help: 'Requests by what the gateway did with them',
      labelNames: ['outcome'],
      registers,
    }),
    duration: new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Time from request to the end of the response, by outcome',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    siteverify: new Counter({
      name: 'gateway_siteverify_total',
      help: "Calls to the captcha provider's siteverify, by result",
      labelNames: ['result'],
      registers,
    }),
    storeErrors: new Counter({
      name: 'gateway_store_errors_total',
      help: 'Store calls that failed',
      registers,
    }),
    throttledClients: new Gauge({
      name: 'gateway_throttled_clients',
      help: 'Clients throttled right now (exact for the memory store, an estimate for Redis)',
      registers,
      async collect() {
        if (!countThrottled) return;
        try {
          this.set(await countThrottled());
        } catch {
          // A store that does not answer keeps the last value rather than failing the scrape.
        }
      },
    }),
    configReloads: new Counter({
      name: 'gateway_config_reloads_total',
      help: 'Config reloads, by result',
      labelNames: ['result'],
      registers,
    }),
    countThrottledWith(source) {
      countThrottled = source;
    },
  };
}
