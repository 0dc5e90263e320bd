// The measuring run: every server started once, a preflight request to each, the upstream's
// headroom, a warm-up, then the rounds, interleaved; afterwards the memory and limiter
// micro-benchmarks on the CPU the proxies used. Returns the markdown report.
import { availableParallelism, loadavg } from 'node:os';
import {
  cpuModel,
  describeResult,
  Driver,
  JSON_ACCEPT,
  preflight,
  progress,
  redisGateway,
  startFixtures,
  type LiveScenario,
} from './fixtures.js';
import type { LoadGenerator } from './load.js';
import type { LimiterCase } from './micro/limiter.js';
import type { MemoryFigures } from './micro/memory.js';
import type { BenchOptions } from './options.js';
import { runNodeJob, startServer, type Placement } from './processes.js';
import { renderReport, SERVERS, type RunRecord } from './report.js';

export async function measure(options: BenchOptions, placement: Placement, load: LoadGenerator) {
  const started = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const { upstream, upstreamUrl, config } = await startFixtures(placement);
  const cpu = placement.proxy;
  const gateway = (name: string) =>
    startServer(name, 'servers/gateway.ts', { cpu, input: config('memory') });
  // A gateway process per scenario, so the clients one scenario tracks do not weigh on another.
  const [baseline, koa, gatewayOne, gatewayNew, gatewayLarge, gatewayCaptcha, redis] =
    await Promise.all([
      startServer('baseline', 'servers/baseline.ts', { cpu, input: { upstreamUrl } }),
      startServer('koa hello', 'servers/koa-hello.ts', { cpu }),
      gateway('gateway (one client)'),
      gateway('gateway (new clients)'),
      gateway('gateway (64 KiB)'),
      gateway('gateway (captcha)'),
      redisGateway(config('redis'), cpu),
    ]);
  const redisSkipped = typeof redis === 'string' ? redis : undefined;
  if (redisSkipped) progress(`redis store: not measured: ${redisSkipped}`);

  const scenarios: LiveScenario[] = [
    {
      id: 'one-client',
      title: 'one client, 100 B',
      baseline: SERVERS.baseline,
      subjects:
        typeof redis === 'string' ? [SERVERS.gateway] : [SERVERS.gateway, SERVERS.gatewayRedis],
      headers: {},
      newClient: false,
      entries: [
        { label: SERVERS.baseline, server: baseline, path: '/' },
        { label: SERVERS.gateway, server: gatewayOne, path: '/' },
        ...(typeof redis === 'string'
          ? []
          : [{ label: SERVERS.gatewayRedis, server: redis, path: '/' }]),
      ],
    },
    {
      id: 'new-client',
      title: 'new client IP per request, 100 B',
      baseline: SERVERS.baseline,
      subjects: [SERVERS.gateway],
      headers: {},
      newClient: true,
      entries: [
        { label: SERVERS.baseline, server: baseline, path: '/' },
        { label: SERVERS.gateway, server: gatewayNew, path: '/' },
      ],
    },
    {
      id: 'large',
      title: 'one client, 64 KiB',
      baseline: SERVERS.baseline,
      subjects: [SERVERS.gateway],
      headers: {},
      newClient: false,
      entries: [
        { label: SERVERS.baseline, server: baseline, path: '/64k' },
        { label: SERVERS.gateway, server: gatewayLarge, path: '/64k' },
      ],
    },
    {
      id: 'captcha',
      title: 'captcha GET (JSON) vs Koa hello',
      baseline: SERVERS.koa,
      subjects: [SERVERS.captcha],
      headers: JSON_ACCEPT,
      newClient: false,
      entries: [
        { label: SERVERS.koa, server: koa, path: '/' },
        { label: SERVERS.captcha, server: gatewayCaptcha, path: '/users/captcha/' },
      ],
    },
  ];
  await preflight(scenarios);

  // Every server but the upstream shares the proxy CPU; only the one under load may run there.
  const proxies = [baseline, koa, gatewayOne, gatewayNew, gatewayLarge, gatewayCaptcha];
  if (typeof redis !== 'string') proxies.push(redis);
  const driver = new Driver(load, options, proxies);
  const runs: RunRecord[] = [];
  const upstreamScenario: LiveScenario = {
    id: 'upstream',
    title: 'upstream direct (headroom check)',
    baseline: SERVERS.upstream,
    subjects: [],
    headers: {},
    newClient: false,
    entries: [{ label: SERVERS.upstream, server: upstream, path: '/' }],
  };
  progress(`upstream direct, ${options.durationS} s ...`);
  const direct = await driver.drive(
    upstreamScenario,
    upstreamScenario.entries[0]!,
    options.durationS,
  );
  runs.push({ scenario: 'upstream', server: SERVERS.upstream, round: 0, result: direct });
  progress(`  ${describeResult(direct)}`);

  if (options.warmupS > 0) {
    progress(`warm-up: ${options.warmupS} s per server and scenario`);
    for (const scenario of scenarios) {
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
  }

  // The load servers leave the proxy CPU to the micro-benchmarks.
  await Promise.all([upstream, ...proxies].map((server) => server.stop()));

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
    `load generator: ${load.description}, ${options.connections} keep-alive connections, ${options.durationS} s per run, ${options.rounds} round(s) interleaved${options.warmupS > 0 ? `, ${options.warmupS} s warm-up per server and scenario` : ', no warm-up'}${options.quick ? ' (--quick: a smoke run, not figures)' : ''}`,
    `placement: ${placement.description}`,
    'each server in its own process; the gateway runs dist/ (npm run build): store memory (redis when measured), log silent, throttle.limit 1,000,000,000 (never reached), trusted_proxies [loopback], default rules',
    'upstream: canned HTTP/1.1 answers on raw sockets, 100 bytes (65,536 at /64k); baseline: node:http + http-proxy, keep-alive agent',
    redisSkipped === undefined
      ? `redis: ${config('redis').redisUrl}, not started or pinned by the bench (it runs where the OS puts it); keys under a prefix of this run, expiring with their window`
      : `redis: not measured (${redisSkipped})`,
  ];
  return renderReport({
    header,
    scenarios: [upstreamScenario, ...scenarios],
    runs,
    rounds: options.rounds,
    memory,
    limiter,
    redisSkipped,
  });
}
