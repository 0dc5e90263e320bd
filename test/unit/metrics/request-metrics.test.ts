// Checks that the tallied request metrics read exactly as prom-client's own Counter and Histogram
// would for the same requests, in the text format and as JSON.
import { expect } from 'chai';
import { Counter, Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS, RequestMetrics } from '../../../gateway/request-metrics.js';

const REQUESTS: [outcome: 'proxied' | 'throttled' | 'exempt', seconds: number][] = [
  ['proxied', 0.001],
  ['proxied', 0.005],
  ['proxied', 0.0051],
  ['proxied', 42],
  ['throttled', 0.2],
  ['exempt', 30],
];

function reference(): Registry {
  const registry = new Registry();
  const registers = [registry];
  const counter = new Counter({
    name: 'gateway_requests_total',
    help: 'Requests by what the gateway did with them',
    labelNames: ['outcome'],
    registers,
  });
  const histogram = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time from request to the end of the response, by outcome',
    labelNames: ['outcome'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  for (const [outcome, seconds] of REQUESTS) {
    counter.inc({ outcome });
    histogram.observe({ outcome }, seconds);
  }
  return registry;
}

function tallied(): { registry: Registry; metrics: RequestMetrics } {
  const registry = new Registry();
  const metrics = new RequestMetrics(registry);
  for (const [outcome, seconds] of REQUESTS) metrics.record(outcome, seconds);
  return { registry, metrics };
}

describe('RequestMetrics', () => {
  it('reads as prom-client Counter and Histogram text for the same requests', async () => {
    expect(await tallied().registry.metrics()).to.equal(await reference().metrics());
  });

  it('reads as prom-client Counter and Histogram JSON for the same requests', async () => {
    const json = await tallied().registry.getMetricsAsJSON();
    expect(json).to.deep.equal(await reference().getMetricsAsJSON());
  });

  it('counts a request without timing it, and keeps counts across scrapes', async () => {
    const { registry, metrics } = tallied();
    metrics.count('proxied');
    await registry.metrics();
    metrics.count('proxied');
    const text = await registry.metrics();
    expect(text).to.match(/^gateway_requests_total\{outcome="proxied"\} 6$/m);
    expect(text).to.match(/^gateway_request_duration_seconds_count\{outcome="proxied"\} 4$/m);
  });
});
