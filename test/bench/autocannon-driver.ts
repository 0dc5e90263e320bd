// The fallback load generator, run as a child of its own: autocannon driven through its API, so a
// new X-Forwarded-For per request is possible. Prints one LoadResult as a JSON line.
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './load.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
let next = spec.newClientFrom ?? 0;

const cycle = spec.clientCycle ?? 16_777_216;
const from = next;

const newClient = (request: autocannon.Request): autocannon.Request => {
  const n = (from + ((next - from) % cycle)) % 16_777_216;
  next += 1;
  const address = `10.${Math.floor(n / 65_536)}.${Math.floor(n / 256) % 256}.${n % 256}`;
  return { ...request, headers: { ...request.headers, 'x-forwarded-for': address } };
};

const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationS,
  headers: { ...spec.headers },
  ...(spec.newClientFrom === undefined ? {} : { requests: [{ setupRequest: newClient }] }),
});
const seconds = result.duration;
const summary: LoadResult = {
  requests: result.requests.total,
  rps: result.requests.total / seconds,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  maxMs: result.latency.max,
  errors:
    (spec.expectErrorStatus ? result['2xx'] + result['3xx'] : result['4xx'] + result['5xx']) +
    result.errors +
    result.timeouts,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
