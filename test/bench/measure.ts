// The measuring run: every server started once (the origin, the bare http-proxy baseline, the
// gateway on each store, the koa and fastify peers, the flood's gateways and its bare floor), a
// preflight request to each, the origin's headroom, a warm-up, then the rounds, interleaved: the
// proxied workloads, the captcha page, the floods alone and the shoppers beside them. Afterwards
// the memory figures (per tracked client, per idle connection) and the limiter micro-benchmark on
// the CPU the proxies used. Returns the markdown report.
import { availableParallelism, loadavg } from 'node:os';
import { FLOOD_PATH } from './config.js';
import {
  BROWSER_ACCEPT,
  cpuModel,
  describeResult,
  Driver,
  JSON_ACCEPT,
  preflight,
  progress,
  redisGateway,
  SHOPPER_HEADERS,
  startFixtures,
  throttleClients,
  type Entry,
  type LiveScenario,
} from './fixtures.js';
import type { LoadGenerator } from './load.js';
import type { LimiterCase } from './micro/limiter.js';
import type { MemoryFigures } from './micro/memory.js';
import type { BenchOptions } from './options.js';
import { ORIGIN_BODIES } from './origin-bodies.js';
import { measureIdleConnections } from './idle-connections.js';
import { runNodeJob, startServer, type Placement, type Server } from './processes.js';
import { renderReport, SERVERS, type RunRecord, type ShopperRecord } from './report.js';

const SIZES = [
  { label: '100 B', path: '/', bytes: 100 },
  { label: '64 KiB', path: '/64k', bytes: 64 * 1024 },
  { label: '1 MiB', path: '/1m', bytes: 1024 * 1024 },
] as const;

/** The one client of the one-client flood (outside 10.0.0.0/8, where the many clients are). */
const FLOOD_ONE_CLIENT = { 'X-Forwarded-For': '192.0.2.66' };

export async function measure(options: BenchOptions, placement: Placement, load: LoadGenerator) {
  const started = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  if (ORIGIN_BODIES.length !== SIZES.length) throw new Error('origin bodies and sizes disagree');
  const { upstream, upstreamUrl, config, originDescription } = await startFixtures(placement);
  const cpu = placement.proxy;
  const gateway = (name: string, flood = false) =>
    startServer(name, 'servers/gateway.ts', { cpu, input: config('memory', flood) });
  const redisOrSkip = async (name: string, flood = false) =>
    redisGateway(config('redis', flood), cpu, name);
  // A gateway process per client mode and store, so the clients one tracks do not weigh on another.
  const [baseline, koaHello, koaProxy, fastify, gwOne, gwNew, gwCaptcha, gwFlood] =
    await Promise.all([
      startServer(SERVERS.baseline, 'servers/baseline.ts', { cpu, input: { upstreamUrl } }),
      startServer(SERVERS.koa, 'servers/koa-hello.ts', { cpu }),
      startServer(SERVERS.koaProxy, 'servers/koa-proxy.ts', { cpu, input: { upstreamUrl } }),
      startServer(SERVERS.fastify, 'servers/fastify-proxy.ts', { cpu, input: { upstreamUrl } }),
      gateway('gateway (one client)'),
      gateway('gateway (new clients)'),
      gateway('gateway (captcha)'),
      gateway('gateway (flood)', true),
    ]);
  const redisOne = await redisOrSkip('gateway (redis, one client)');
  const redisSkipped = typeof redisOne === 'string' ? redisOne : undefined;
  if (redisSkipped) progress(`redis store: not measured: ${redisSkipped}`);
  const redis =
    typeof redisOne === 'string'
      ? undefined
      : {
          one: redisOne,
          new: await redisOrSkip('gateway (redis, new clients)'),
          flood: await redisOrSkip('gateway (redis, flood)', true),
        };
  const redisServers = redis
    ? (Object.values(redis).filter((s) => typeof s !== 'string') as Server[])
    : [];
  if (redis && redisServers.length < 3) {
    throw new Error('a Redis-store gateway started and another did not: Redis is unsteady');
  }
  const withRedis = (entries: Entry[], server: Server | string | undefined, path: string) =>
    server === undefined || typeof server === 'string'
      ? entries
      : [...entries, { label: SERVERS.gatewayRedis, server, path }];

  const loadScenarios: LiveScenario[] = [];
  for (const size of SIZES) {
    for (const newClient of [false, true]) {
      const entries: Entry[] = withRedis(
        [
          { label: SERVERS.baseline, server: baseline, path: size.path },
          { label: SERVERS.gateway, server: newClient ? gwNew : gwOne, path: size.path },
          { label: SERVERS.fastify, server: fastify, path: size.path },
          { label: SERVERS.koaProxy, server: koaProxy, path: size.path },
        ],
        newClient ? redis?.new : redis?.one,
        size.path,
      );
      loadScenarios.push({
        id: `${size.path === '/' ? '100b' : size.path.slice(1)}-${newClient ? 'new' : 'one'}`,
        title: `${size.label}, ${newClient ? 'a new client per request' : 'one client'}`,
        kind: 'proxied',
        baseline: SERVERS.baseline,
        subjects: entries.slice(1).map((e) => e.label),
        headers: {},
        newClient,
        bytes: size.bytes,
        entries,
      });
    }
  }
  const captcha: LiveScenario = {
    id: 'captcha',
    title: 'captcha GET (JSON) vs Koa hello',
    kind: 'captcha',
    baseline: SERVERS.koa,
    subjects: [SERVERS.captcha],
    headers: JSON_ACCEPT,
    newClient: false,
    entries: [
      { label: SERVERS.koa, server: koaHello, path: '/' },
      { label: SERVERS.captcha, server: gwCaptcha, path: '/users/captcha/' },
    ],
  };
  await preflight([...loadScenarios, captcha]);

  // The flood's clients are throttled before it starts, on each flood gateway; the floor answers
  // with the bytes the gateway sends them.
  progress(`throttling ${options.floodClients.toLocaleString('en-US')} + 1 flood clients ...`);
  const floodGateways = [gwFlood, ...(redis ? [redis.flood as Server] : [])];
  let answers: Awaited<ReturnType<typeof throttleClients>> | undefined;
  for (const server of floodGateways) {
    await throttleClients(server.port, FLOOD_PATH, 1, FLOOD_ONE_CLIENT);
    answers = await throttleClients(server.port, FLOOD_PATH, options.floodClients);
  }
  const floor = await startServer(SERVERS.floodFloor, 'servers/flood-answer.ts', {
    cpu,
    input: answers,
  });
  const floodScenarios: LiveScenario[] = [];
  for (const browser of [false, true]) {
    for (const many of [false, true]) {
      const entries: Entry[] = withRedis(
        [
          { label: SERVERS.floodFloor, server: floor, path: FLOOD_PATH },
          { label: SERVERS.gateway, server: gwFlood, path: FLOOD_PATH },
        ],
        redis?.flood,
        FLOOD_PATH,
      );
      floodScenarios.push({
        id: `flood-${browser ? '302' : '429'}-${many ? 'many' : 'one'}`,
        title: `flood, ${browser ? '302 (browser page loads)' : '429 JSON'}, ${many ? `${options.floodClients.toLocaleString('en-US')} clients` : 'one client'}`,
        kind: 'flood',
        baseline: SERVERS.floodFloor,
        subjects: entries.slice(1).map((e) => e.label),
        headers: { ...(browser ? BROWSER_ACCEPT : JSON_ACCEPT), ...(many ? {} : FLOOD_ONE_CLIENT) },
        newClient: many,
        ...(many ? { clientCycle: options.floodClients } : {}),
        status: browser ? 302 : 429,
        entries,
      });
    }
  }
  const shopperEntries: Entry[] = withRedis(
    [{ label: SERVERS.gateway, server: gwFlood, path: '/' }],
    redis?.flood,
    '/',
  );
  const shoppers: LiveScenario = {
    id: 'shoppers',
    title: `shoppers (${options.shopperConnections} connections, 100 B, one client)`,
    kind: 'shoppers',
    baseline: SERVERS.gateway,
    subjects: [],
    headers: SHOPPER_HEADERS,
    newClient: false,
    bytes: 100,
    entries: shopperEntries,
  };
  await preflight([...floodScenarios, shoppers]);

  // Every server but the origin shares the proxy CPU; only the one(s) under load may run there.
  const proxies = [
    baseline,
    koaHello,
    koaProxy,
    fastify,
    gwOne,
    gwNew,
    gwCaptcha,
    gwFlood,
    floor,
    ...redisServers,
  ];
  const driver = new Driver(load, options, proxies);
  const runs: RunRecord[] = [];
  const shopperRuns: ShopperRecord[] = [];
  const upstreamScenario: LiveScenario = {
    id: 'upstream',
    title: 'origin direct (headroom check)',
    kind: 'headroom',
    baseline: SERVERS.upstream,
    subjects: [],
    headers: {},
    newClient: false,
    entries: [{ label: SERVERS.upstream, server: upstream, path: '/' }],
  };
  progress(`origin direct, ${options.durationS} s ...`);
  const direct = await driver.drive(
    upstreamScenario,
    upstreamScenario.entries[0]!,
    options.durationS,
  );
  runs.push({ scenario: 'upstream', server: SERVERS.upstream, round: 0, result: direct });
  progress(`  ${describeResult(direct)}`);

  const scenarios = [...loadScenarios, captcha, ...floodScenarios];
  if (options.warmupS > 0) {
    progress(`warm-up: ${options.warmupS} s per server and scenario`);
    for (const scenario of [...scenarios, shoppers]) {
      for (const entry of scenario.entries) await driver.drive(scenario, entry, options.warmupS);
    }
  }

  for (let round = 1; round <= options.rounds; round += 1) {
    for (const scenario of scenarios) {
      // Alternate who goes first, so a drift within a round does not always favour one side.
      const order = round % 2 === 1 ? scenario.entries : [...scenario.entries].reverse();
      for (const entry of order) {
        progress(`round ${round}/${options.rounds} · ${scenario.title} · ${entry.label} ...`);
        const result = await driver.drive(scenario, entry, options.durationS);
        runs.push({ scenario: scenario.id, server: entry.label, round, result });
        progress(`  ${describeResult(result)}`);
      }
    }
    // The shoppers alone, then beside each flood, on the same gateway.
    for (const shopperEntry of shopperEntries) {
      progress(
        `round ${round}/${options.rounds} · ${shoppers.title} alone · ${shopperEntry.label} ...`,
      );
      const alone = await driver.drive(shoppers, shopperEntry, options.durationS);
      progress(`  ${describeResult(alone)}`);
      for (const flood of floodScenarios) {
        const floodEntry = flood.entries.find((e) => e.server === shopperEntry.server)!;
        progress(
          `round ${round}/${options.rounds} · shoppers beside ${flood.title} · ${shopperEntry.label} ...`,
        );
        const [during, flooding] = await driver.driveTogether(
          [
            [shoppers, shopperEntry],
            [flood, floodEntry],
          ],
          options.durationS,
        );
        progress(`  shoppers ${describeResult(during!)}; flood ${describeResult(flooding!)}`);
        shopperRuns.push({
          flood: flood.id,
          server: shopperEntry.label,
          round,
          alone,
          during: during!,
          flooding: flooding!,
        });
      }
    }
  }

  // The load servers leave the proxy CPU to the memory figures and micro-benchmarks.
  await Promise.all(proxies.map((server) => server.stop()));
  const connections = await measureIdleConnections(options, placement, config('memory'));
  await upstream.stop();

  progress(
    `memory: ${options.memoryClients.toLocaleString('en-US')} then twice as many clients ...`,
  );
  const memory = await runNodeJob<MemoryFigures>(
    'micro/memory.ts',
    { cpu, nodeFlags: ['--expose-gc'], input: { maxClients: options.memoryClients } },
    600_000,
  ).catch((error: Error) => error.message);
  progress('limiter decisions/s ...');
  const limiter = await runNodeJob<LimiterCase[]>(
    'micro/limiter.ts',
    { cpu, input: { seconds: options.limiterS } },
    300_000,
  ).catch((error: Error) => error.message);

  const header = [
    `date: ${started.toISOString()}`,
    `node ${process.version}, ${process.platform} ${process.arch}; CPU: ${cpuModel()}, ${availableParallelism()} available; load average (1 min) at start ${loadAtStart.toFixed(2)}, at end ${(loadavg()[0] ?? 0).toFixed(2)} (other work on a shared machine shows here and in "CPU wait %")`,
    `load generator: ${load.description}, ${options.connections} keep-alive connections (shoppers beside a flood: ${options.shopperConnections}, a second generator at the same time), ${options.durationS} s per run, ${options.rounds} round(s) interleaved${options.warmupS > 0 ? `, ${options.warmupS} s warm-up per server and scenario` : ', no warm-up'}${options.quick ? ' (--quick: a smoke run, not figures)' : ''}`,
    `placement: ${placement.description}`,
    `origin: ${originDescription}: ${SIZES.map((s) => `${s.label} at ${s.path}`).join(', ')}`,
    'each server in its own process; the gateway runs dist/ (npm run build): store memory (redis when measured), log silent, throttle.limit 1,000,000,000 (never reached), trusted_proxies [loopback], default rules; the flood gateway adds a rule that throttles a client on its second request under /flood/ (all flood clients are throttled before the rounds)',
    `peers: ${SERVERS.baseline} (node:http + http-proxy, keep-alive agent; the baseline of every ratio), ${SERVERS.fastify} (fastify 5, @fastify/rate-limit in memory, @fastify/http-proxy), ${SERVERS.koaProxy} (Koa + http-proxy + an lru-cache counter per client); flood floor: ${SERVERS.floodFloor} (node:http answering the gateway's own 429 / 302 bytes)`,
    redisSkipped === undefined
      ? `redis: ${config('redis').redisUrl}, not started or pinned by the bench (it runs where the OS puts it); keys under a prefix of this run, expiring with their window`
      : `redis: not measured (${redisSkipped})`,
  ];
  return renderReport({
    header,
    scenarios: [upstreamScenario, ...scenarios],
    runs,
    shopperRuns,
    rounds: options.rounds,
    memory,
    connections,
    limiter,
    redisSkipped,
  });
}
