// What the measuring and the profiling runs share: the upstream and servers they start, the
// scenarios' shape, and the driver that runs the load generator against one server.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchConfigYaml, type BenchConfigOptions } from './config.js';
import { sampleCpu } from './cpu-time.js';
import type { LoadGenerator, LoadResult } from './load.js';
import type { BenchOptions } from './options.js';
import { startServer, type Placement, type Server } from './processes.js';
import { probeRedis } from './redis-probe.js';
import type { Scenario } from './report.js';

type LoadModule = typeof import('../../gateway/config/load.js');

export const JSON_ACCEPT = { Accept: 'application/json' };

/** One server of a scenario, and what to ask it for. */
export interface Entry {
  readonly label: string;
  readonly server: Server;
  readonly path: string;
}

export interface LiveScenario extends Scenario {
  readonly headers: Readonly<Record<string, string>>;
  readonly newClient: boolean;
  readonly entries: readonly Entry[];
}

export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1];
    if (model) return model.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

/** A load run, with what it cost the server's process when /proc tells. */
export interface RunResult extends LoadResult {
  /** CPU time (all threads) of the server process per request answered, µs. */
  readonly cpuUsPerRequest?: number;
  /** Of the run's wall time, how long the server's main thread waited for its CPU, %. */
  readonly waitPercent?: number;
  /** Of the run's wall time, CPU used by the server's other threads (GC helpers, libuv), %. */
  readonly otherThreadsPercent?: number;
}

export function describeResult(result: RunResult): string {
  const errors = result.errors > 0 ? `, ${result.errors} ERRORS` : '';
  const cpu =
    result.cpuUsPerRequest === undefined
      ? ''
      : `, CPU ${result.cpuUsPerRequest.toFixed(1)} µs/request, waited for CPU ${result.waitPercent?.toFixed(1)} %, other threads ${result.otherThreadsPercent?.toFixed(1)} % CPU`;
  return `${Math.round(result.rps).toLocaleString('en-US')} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms${cpu}${errors}`;
}

export class Driver {
  /** Where the next new-client run of each server starts counting addresses. */
  private readonly nextClient = new Map<string, number>();

  /**
   * `bystanders`: servers on the proxy CPU that are paused while another one is driven, so their
   * timers and idle-time garbage collection take nothing from the server measured.
   */
  constructor(
    private readonly load: LoadGenerator,
    private readonly options: BenchOptions,
    private readonly bystanders: readonly Server[] = [],
  ) {}

  async drive(scenario: LiveScenario, entry: Entry, durationS: number): Promise<RunResult> {
    const paused = this.bystanders.filter((server) => server !== entry.server);
    for (const server of paused) server.pause();
    try {
      return await this.run(scenario, entry, durationS);
    } finally {
      for (const server of paused) server.resume();
    }
  }

  private async run(scenario: LiveScenario, entry: Entry, durationS: number): Promise<RunResult> {
    const key = `${scenario.id}/${entry.label}`;
    const from = this.nextClient.get(key) ?? 0;
    const before = sampleCpu(entry.server.pid);
    const startedMs = performance.now();
    const result = await this.load.run({
      url: `http://127.0.0.1:${entry.server.port}${entry.path}`,
      durationS,
      connections: this.options.connections,
      headers: scenario.headers,
      ...(scenario.newClient ? { newClientFrom: from } : {}),
    });
    // Every request used an address of its own; the next run starts past all of them (and past
    // the requests still in flight when the run ended).
    this.nextClient.set(key, from + result.requests + 10 * this.options.connections);
    const after = sampleCpu(entry.server.pid);
    if (!before || !after || result.requests === 0) return result;
    const wallNs = (performance.now() - startedMs) * 1e6;
    return {
      ...result,
      cpuUsPerRequest: (after.cpuUs - before.cpuUs) / result.requests,
      waitPercent: (100 * (after.waitNs - before.waitNs)) / wallNs,
      otherThreadsPercent: Math.max(
        0,
        (100 * ((after.cpuUs - before.cpuUs) * 1000 - (after.mainNs - before.mainNs))) / wallNs,
      ),
    };
  }
}

/** One request to each entry first: a misconfigured server would otherwise give a fast 4xx/5xx. */
export async function preflight(scenarios: readonly LiveScenario[]): Promise<void> {
  for (const scenario of scenarios) {
    for (const entry of scenario.entries) {
      const headers: Record<string, string> = { ...scenario.headers };
      if (scenario.newClient) headers['X-Forwarded-For'] = '192.0.2.1';
      const response = await fetch(`http://127.0.0.1:${entry.server.port}${entry.path}`, {
        headers,
        signal: AbortSignal.timeout(5000),
      });
      const body = await response.arrayBuffer();
      if (response.status !== 200) {
        throw new Error(
          `${scenario.title} / ${entry.label}: GET ${entry.path} answered ${response.status}: ${Buffer.from(body).toString('utf8', 0, 300)}`,
        );
      }
      if (scenario.id === 'large' && body.byteLength !== 64 * 1024) {
        throw new Error(`${entry.label}: /64k answered ${body.byteLength} bytes`);
      }
    }
  }
}

export async function redisGateway(
  config: BenchConfigOptions,
  cpu: string | undefined,
): Promise<Server | string> {
  const probe = await probeRedis(config.redisUrl);
  if (!probe.answers) {
    return `no Redis answers at ${config.redisUrl} (${probe.reason}); set REDIS_URL`;
  }
  const { parseConfig } = (await import(
    new URL('../../dist/gateway/config/load.js', import.meta.url).href
  )) as LoadModule;
  const parsed = parseConfig(benchConfigYaml(config), {}, 'bench config');
  if (!parsed.ok) {
    return `the gateway's config rejects store.type: redis (${parsed.problems.join('; ')})`;
  }
  try {
    return await startServer('gateway (redis)', 'servers/gateway.ts', { cpu, input: config });
  } catch (error) {
    return `the gateway did not start with store.type: redis (${(error as Error).message})`;
  }
}

export async function startFixtures(placement: Placement) {
  const upstream = await startServer('upstream', 'servers/upstream.ts', {
    cpu: placement.upstream,
  });
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
  const config = (store: 'memory' | 'redis'): BenchConfigOptions => ({
    upstreamUrl,
    store,
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    redisPrefix: `cgw-bench:${process.pid}:${Date.now()}:`,
    maxClients: 1_000_000,
  });
  return { upstream, upstreamUrl, config };
}
