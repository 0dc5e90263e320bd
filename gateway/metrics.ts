// The gateway's Prometheus metrics (CONTRACT §11), in a registry of its own per gateway instance.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestMetrics } from './request-metrics.js';

export type { Outcome } from './request-metrics.js';

export interface Metrics {
  readonly registry: Registry;
  /** gateway_requests_total and gateway_request_duration_seconds. */
  readonly requests: RequestMetrics;
  readonly siteverify: Counter<'result'>;
  readonly storeErrors: Counter;
  readonly throttledClients: Gauge;
  readonly configReloads: Counter<'result'>;
  /** Clearances granted by a passed captcha. */
  readonly clearancesGranted: Counter;
  /** Requests counted under a clearance rather than an address. */
  readonly clearanceRequests: Counter;
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
    requests: new RequestMetrics(registry),
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
    clearancesGranted: new Counter({
      name: 'gateway_clearances_granted_total',
      help: 'Clearance cookies granted by a passed captcha',
      registers,
    }),
    clearanceRequests: new Counter({
      name: 'gateway_clearance_requests_total',
      help: 'Requests counted under a clearance instead of their address',
      registers,
    }),
    countThrottledWith(source) {
      countThrottled = source;
    },
  };
}
