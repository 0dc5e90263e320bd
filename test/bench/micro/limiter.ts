// Target 5, in a child of its own pinned to one CPU: limiter decisions per second, in process, with
// the memory store: MemoryStore.hit alone (one client; many clients; a flood of new clients past
// the bound), and the whole per-request decision as createGateway makes it (client from
// X-Forwarded-For, classify, guarded store hit, decide). Every loop awaits each decision, as the
// gateway does. Prints one JSON line.
import type { IncomingHttpHeaders } from 'node:http';
import { benchConfigYaml } from '../config.js';
import { distModule } from '../servers/child.js';
import { clientKey } from './keys.js';

type MemoryStoreModule = typeof import('../../../gateway/limiter/memory-store.js');
type LoadModule = typeof import('../../../gateway/config/load.js');
type CidrModule = typeof import('../../../gateway/client-ip/cidr.js');
type ResolveModule = typeof import('../../../gateway/client-ip/resolve.js');
type RoutesModule = typeof import('../../../gateway/policy/routes.js');
type DecideModule = typeof import('../../../gateway/policy/decide.js');
type GuardModule = typeof import('../../../gateway/limiter/guarded-store.js');
type LogModule = typeof import('../../../gateway/log.js');
type MetricsModule = typeof import('../../../gateway/metrics.js');

export interface LimiterCase {
  readonly name: string;
  /** Counted against the target (store alone) or shown for information (the whole decision). */
  readonly storeOnly: boolean;
  readonly decisionsPerS: number;
}

const { seconds } = JSON.parse(process.argv[2] ?? '{}') as { seconds: number };
const load = async <T>(relative: string) => (await import(distModule(relative))) as T;
const { MemoryStore } = await load<MemoryStoreModule>('gateway/limiter/memory-store.js');
const { parseConfig } = await load<LoadModule>('gateway/config/load.js');
const { AddressSet } = await load<CidrModule>('gateway/client-ip/cidr.js');
const { createClientResolver } = await load<ResolveModule>('gateway/client-ip/resolve.js');
const { compileRoutes } = await load<RoutesModule>('gateway/policy/routes.js');
const { decide } = await load<DecideModule>('gateway/policy/decide.js');
const { guardStore } = await load<GuardModule>('gateway/limiter/guarded-store.js');
const { createLogger } = await load<LogModule>('gateway/log.js');
const { createMetrics } = await load<MetricsModule>('gateway/metrics.js');

const parsed = parseConfig(
  benchConfigYaml({
    upstreamUrl: 'http://127.0.0.1:9',
    store: 'memory',
    redisUrl: 'redis://127.0.0.1:6379',
    redisPrefix: 'unused:',
    maxClients: 1_000_000,
  }),
  {},
);
if (!parsed.ok) throw new Error(parsed.problems.join('; '));
const config = parsed.config;

const limits = [{ id: '', limit: 1_000_000_000, windowMs: 60_000 }];
const blockMs = 15 * 60_000;
const keys = (count: number) => Array.from({ length: count }, (_, n) => clientKey(n));

const TRIALS = 5;

/**
 * Decisions per second of `step`, each awaited: a quarter of `ms` as warm-up, then the best of
 * TRIALS equal slices of `ms`. Interference (a shared machine, GC) only ever slows a slice down,
 * so the best slice is the steadiest estimate of what the code itself can do.
 */
async function rate(step: (i: number) => Promise<unknown>, ms: number): Promise<number> {
  let i = 0;
  const warmEnd = performance.now() + ms / 4;
  while (performance.now() < warmEnd) for (let j = 0; j < 1024; j += 1) await step(i++);
  let best = 0;
  for (let trial = 0; trial < TRIALS; trial += 1) {
    let done = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ms / TRIALS) {
      for (let j = 0; j < 1024; j += 1) await step(i++);
      done += 1024;
      now = performance.now();
    }
    best = Math.max(best, done / ((now - start) / 1000));
  }
  return best;
}

const ms = seconds * 1000;
const cases: LimiterCase[] = [];

{
  const store = new MemoryStore({ maxClients: 1_000_000 });
  const nowMs = Date.now();
  const decisionsPerS = await rate(() => store.hit('10.0.0.1', limits, blockMs, nowMs), ms);
  cases.push({ name: 'MemoryStore.hit, one client', storeOnly: true, decisionsPerS });
}
{
  const store = new MemoryStore({ maxClients: 1_000_000 });
  const clients = keys(100_000);
  const nowMs = Date.now();
  const decisionsPerS = await rate(
    (i) => store.hit(clients[i % clients.length]!, limits, blockMs, nowMs),
    ms,
  );
  cases.push({ name: 'MemoryStore.hit, 100,000 clients in turn', storeOnly: true, decisionsPerS });
}
{
  // Twice as many clients as the bound, in turn: every hit is a new client and evicts the oldest.
  const store = new MemoryStore({ maxClients: 100_000 });
  const clients = keys(200_000);
  const nowMs = Date.now();
  const decisionsPerS = await rate(
    (i) => store.hit(clients[i % clients.length]!, limits, blockMs, nowMs),
    ms,
  );
  cases.push({
    name: 'MemoryStore.hit, flood: a new client every hit, bound reached (evicting)',
    storeOnly: true,
    decisionsPerS,
  });
}
{
  // Wrapped as createGateway wraps it: the guard's extra promise is part of every decision.
  const store = guardStore(new MemoryStore({ maxClients: config.throttle.max_clients }), {
    log: createLogger('silent'),
    metrics: createMetrics({ processMetrics: false }),
  });
  const resolveClient = createClientResolver({
    header: config.client_ip.header,
    trusted: new AddressSet(config.client_ip.trusted_proxies),
    ipv6Prefix: config.client_ip.ipv6_prefix,
  });
  const classify = compileRoutes(config, new AddressSet(config.throttle.exempt.clients));
  const policy = { mode: config.throttle.mode, onStoreError: config.store.redis.on_error };
  const headers: IncomingHttpHeaders[] = keys(100_000).map((key) => ({
    host: 'shop.example',
    'x-forwarded-for': key,
  }));
  const decisionsPerS = await rate(async (i) => {
    const client = resolveClient('127.0.0.1', headers[i % headers.length]!);
    const route = classify('GET', '/products/42/?page=2', client.address);
    if (route.kind !== 'counted') throw new Error(`unexpected route ${route.kind}`);
    const nowMs = Date.now();
    const until = await store.hit(client.key, route.limits, config.throttle.block, nowMs);
    return decide({ throttledUntilMs: until, nowMs }, policy);
  }, ms);
  cases.push({
    name: 'whole decision: client from X-Forwarded-For + classify + guarded hit + decide, 100,000 clients',
    storeOnly: false,
    decisionsPerS,
  });
}

process.stdout.write(`${JSON.stringify(cases)}\n`);
