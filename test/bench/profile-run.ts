// `--profile[=DIR]`: one fresh server process per case, warmed up, then profiled (V8 CPU profiler,
// main thread only) while the load generator drives it; prints per case where the time goes per
// request, and what each gateway case spends beyond its baseline. The .cpuprofile files stay in
// DIR for a flame graph (Chrome DevTools, speedscope).
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  cpuModel,
  describeResult,
  Driver,
  JSON_ACCEPT,
  progress,
  startFixtures,
  type LiveScenario,
} from './fixtures.js';
import type { LoadGenerator } from './load.js';
import type { BenchOptions } from './options.js';
import { startServer, type Placement } from './processes.js';
import {
  renderDelta,
  renderProfile,
  summariseProfile,
  type CpuProfile,
  type ProfileSummary,
} from './profile.js';
import { probeRedis } from './redis-probe.js';

interface ProfileCase {
  readonly name: string;
  readonly title: string;
  readonly script: string;
  readonly input: unknown;
  readonly path: string;
  readonly newClient?: boolean;
  readonly headers?: Record<string, string>;
  /** The case this one is compared with. */
  readonly base?: string;
}

export async function profile(
  options: BenchOptions,
  placement: Placement,
  load: LoadGenerator,
  root: string,
): Promise<string> {
  const dir = path.resolve(root, options.profileDir!);
  mkdirSync(dir, { recursive: true });
  const { upstream, upstreamUrl, config } = await startFixtures(placement);
  const redis = await probeRedis(config('redis').redisUrl);
  const gateway = { script: 'servers/gateway.ts', input: config('memory') };
  const baseline = { script: 'servers/baseline.ts', input: { upstreamUrl } };
  const cases: ProfileCase[] = [
    { name: 'baseline-100b', title: 'bare http-proxy, 100 B', ...baseline, path: '/' },
    { name: 'baseline-64k', title: 'bare http-proxy, 64 KiB', ...baseline, path: '/64k' },
    { name: 'baseline-1m', title: 'bare http-proxy, 1 MiB', ...baseline, path: '/1m' },
    {
      name: 'koa-hello',
      title: 'bare Koa "hello"',
      script: 'servers/koa-hello.ts',
      input: {},
      path: '/',
    },
    {
      name: 'gateway-one-client',
      title: 'gateway (memory), one client, 100 B',
      ...gateway,
      path: '/',
      base: 'baseline-100b',
    },
    {
      name: 'gateway-new-client',
      title: 'gateway (memory), new client IP per request, 100 B',
      ...gateway,
      path: '/',
      newClient: true,
      base: 'baseline-100b',
    },
    {
      name: 'gateway-64k',
      title: 'gateway (memory), one client, 64 KiB',
      ...gateway,
      path: '/64k',
      base: 'baseline-64k',
    },
    {
      name: 'gateway-1m',
      title: 'gateway (memory), one client, 1 MiB',
      ...gateway,
      path: '/1m',
      base: 'baseline-1m',
    },
    {
      name: 'gateway-captcha',
      title: 'gateway captcha GET (JSON)',
      ...gateway,
      path: '/users/captcha/',
      headers: JSON_ACCEPT,
      base: 'koa-hello',
    },
    ...(redis.answers
      ? [
          {
            name: 'gateway-redis',
            title: 'gateway (redis), one client, 100 B',
            script: 'servers/gateway.ts',
            input: config('redis'),
            path: '/',
            base: 'gateway-one-client',
          },
        ]
      : []),
  ];

  const driver = new Driver(load, options);
  const summaries = new Map<string, ProfileSummary>();
  const sections: string[] = [];
  for (const c of cases) {
    const file = path.join(dir, `${c.name}.cpuprofile`);
    rmSync(file, { force: true });
    let server;
    try {
      server = await startServer(c.name, c.script, { cpu: placement.proxy, input: c.input });
    } catch (error) {
      sections.push(`### ${c.title}`, '', `not profiled: ${(error as Error).message}`, '');
      continue;
    }
    const scenario: LiveScenario = {
      id: c.name,
      title: c.title,
      baseline: c.name,
      subjects: [],
      headers: c.headers ?? {},
      newClient: c.newClient ?? false,
      entries: [],
    };
    const entry = { label: c.name, server, path: c.path };
    progress(`profiling ${c.title} ...`);
    // Warm first: the profile is of the steady state, not of start-up and JIT compilation.
    await driver.drive(scenario, entry, Math.max(2, options.warmupS));
    server.startProfile(file);
    const result = await driver.drive(scenario, entry, options.durationS);
    await server.stop();
    progress(`  ${describeResult(result)}`);
    if (!existsSync(file)) {
      sections.push(`### ${c.title}`, '', `no profile was written (${file})`, '');
      continue;
    }
    const summary = summariseProfile(
      JSON.parse(readFileSync(file, 'utf8')) as CpuProfile,
      result.requests,
    );
    summaries.set(c.name, summary);
    sections.push(
      `### ${c.title}: ${describeResult(result)} while profiled`,
      '',
      ...renderProfile(summary),
    );
  }
  await upstream.stop();

  const deltas: string[] = [];
  for (const c of cases) {
    const subject = summaries.get(c.name);
    const base = c.base === undefined ? undefined : summaries.get(c.base);
    if (!subject || !base || c.base === undefined) continue;
    deltas.push(
      `### ${c.name} beyond ${c.base}`,
      '',
      ...renderDelta(base, subject, { base: c.base, subject: c.name }),
    );
  }

  return [
    '## captcha-gateway CPU profiles',
    '',
    `- ${new Date().toISOString()}, node ${process.version}, ${cpuModel()}; ${placement.description}`,
    `- ${load.description}, ${options.connections} connections; per case ${Math.max(2, options.warmupS)} s warm-up, then ${options.durationS} s profiled (sampling every 250 µs); profiles in ${dir}`,
    '- figures are CPU time of the proxy process divided by the requests answered while profiled; the profiler itself slows the process, so compare cases, not absolute req/s',
    '',
    '## What each gateway case spends beyond its baseline',
    '',
    ...deltas,
    '## Each case',
    '',
    ...sections,
  ].join('\n');
}
