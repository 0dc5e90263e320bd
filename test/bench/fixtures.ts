// What the measuring and the profiling runs share: the origin and servers they start, the
// scenarios' shape, and the driver that runs the load generator against one server (or two
// generators at once: a flood and the shoppers beside it).
import { BENCH_RUN_PREFIX } from './redis-cleanup.js';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { cpus } from 'node:os';
import { benchConfigYaml, type BenchConfigOptions } from './config.js';
import { sampleCpu } from './cpu-time.js';
import type { LoadGenerator, LoadResult, LoadSpec } from './load.js';
import type { BenchOptions } from './options.js';
import { startOrigin } from './origin.js';
import { startServer, type Placement, type Server } from './processes.js';
import type { LoopDelayReply } from './servers/child.js';
import type { CannedAnswer } from './servers/flood-answer.js';
import { probeRedis } from './redis-probe.js';
import type { Scenario } from './report.js';

type LoadModule = typeof import('../../gateway/config/load.js');

export const JSON_ACCEPT = { Accept: 'application/json' };
/** What a browser sends when it loads a page. */
export const BROWSER_ACCEPT = {
  Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
};
/** The shoppers beside a flood: one client the flood rule never touches. */
export const SHOPPER_HEADERS = { 'X-Forwarded-For': '192.0.2.7' };

/** One server of a scenario, and what to ask it for. */
export interface Entry {
  readonly label: string;
  readonly server: Server;
  readonly path: string;
}

export interface LiveScenario extends Scenario {
  readonly headers: Readonly<Record<string, string>>;
  readonly newClient: boolean;
  /** With newClient: the addresses repeat after this many (a flood from a fixed set of clients). */
  readonly clientCycle?: number;
  /** The status every answer must have (200 when unset); 4xx answers are then not errors. */
  readonly status?: number;
  /** The body length every 200 must have, checked once before the runs. */
  readonly bytes?: number;
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
  /** The server's longest event-loop pause in the run (monitorEventLoopDelay, 10 ms resolution). */
  readonly loopDelayMaxMs?: number;
}

export function describeResult(result: RunResult): string {
  const errors = result.errors > 0 ? `, ${result.errors} ERRORS` : '';
  const cpu =
    result.cpuUsPerRequest === undefined
      ? ''
      : `, CPU ${result.cpuUsPerRequest.toFixed(1)} µs/request, waited for CPU ${result.waitPercent?.toFixed(1)} %, other threads ${result.otherThreadsPercent?.toFixed(1)} % CPU`;
  const loop =
    result.loopDelayMaxMs === undefined
      ? ''
      : `, event loop paused up to ${result.loopDelayMaxMs.toFixed(1)} ms`;
  return `${Math.round(result.rps).toLocaleString('en-US')} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, max ${result.maxMs.toFixed(2)} ms${cpu}${loop}${errors}`;
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
    const [result] = await this.driveTogether([[scenario, entry]], durationS);
    return result!;
  }

  /**
   * Runs one load generator per (scenario, entry) at the same time (a flood and the shoppers
   * beside it), each on its server; every other server on the proxy CPU is paused meanwhile. When
   * two runs share a server, its CPU time per request is over both runs' requests, and its longest
   * event-loop pause is the same figure for both.
   */
  async driveTogether(
    runs: readonly (readonly [LiveScenario, Entry])[],
    durationS: number,
  ): Promise<RunResult[]> {
    const servers = [...new Set(runs.map(([, entry]) => entry.server))];
    const paused = this.bystanders.filter((server) => !servers.includes(server));
    for (const server of paused) server.pause();
    try {
      // Starts each server's loop-delay period (the answer covers the time before: discarded).
      await Promise.all(servers.map((server) => server.ask('loop-delay')));
      const before = servers.map((server) => sampleCpu(server.pid));
      const startedMs = performance.now();
      const loaded = await Promise.all(
        runs.map(([scenario, entry]) => this.run(scenario, entry, durationS)),
      );
      const wallNs = (performance.now() - startedMs) * 1e6;
      const after = servers.map((server) => sampleCpu(server.pid));
      const delays = (await Promise.all(servers.map((server) => server.ask('loop-delay')))) as (
        LoopDelayReply | undefined
      )[];
      return runs.map(([, entry], i) => {
        const at = servers.indexOf(entry.server);
        const delay = delays[at]?.loopDelay;
        const result: RunResult = {
          ...loaded[i]!,
          ...(delay ? { loopDelayMaxMs: delay.maxMs } : {}),
        };
        const start = before[at];
        const end = after[at];
        const requests = runs.reduce(
          (sum, [, other], j) => sum + (other.server === entry.server ? loaded[j]!.requests : 0),
          0,
        );
        if (!start || !end || requests === 0) return result;
        return {
          ...result,
          cpuUsPerRequest: (end.cpuUs - start.cpuUs) / requests,
          waitPercent: (100 * (end.waitNs - start.waitNs)) / wallNs,
          otherThreadsPercent: Math.max(
            0,
            (100 * ((end.cpuUs - start.cpuUs) * 1000 - (end.mainNs - start.mainNs))) / wallNs,
          ),
        };
      });
    } finally {
      for (const server of paused) server.resume();
    }
  }

  private async run(scenario: LiveScenario, entry: Entry, durationS: number): Promise<LoadResult> {
    const key = `${scenario.id}/${entry.label}`;
    const from = this.nextClient.get(key) ?? 0;
    const spec: LoadSpec = {
      url: `http://127.0.0.1:${entry.server.port}${entry.path}`,
      durationS,
      connections:
        scenario.kind === 'shoppers' ? this.options.shopperConnections : this.options.connections,
      headers: scenario.headers,
      ...(scenario.newClient ? { newClientFrom: scenario.clientCycle ? 0 : from } : {}),
      ...(scenario.clientCycle ? { clientCycle: scenario.clientCycle } : {}),
      ...(scenario.status !== undefined && scenario.status >= 400
        ? { expectErrorStatus: true }
        : {}),
    };
    const result = await this.load.run(spec);
    // Every request used an address of its own; the next run starts past all of them (and past
    // the requests still in flight when the run ended).
    this.nextClient.set(key, from + result.requests + 10 * this.options.connections);
    return result;
  }
}

/** One request to each entry first: a misconfigured server would otherwise give a fast 4xx/5xx. */
export async function preflight(scenarios: readonly LiveScenario[]): Promise<void> {
  for (const scenario of scenarios) {
    for (const entry of scenario.entries) {
      const headers: Record<string, string> = { ...scenario.headers };
      if (scenario.newClient) headers['X-Forwarded-For'] = clientAddress(0);
      const answer = await get(entry.server.port, entry.path, headers);
      const status = scenario.status ?? 200;
      if (answer.status !== status) {
        throw new Error(
          `${scenario.title} / ${entry.label}: GET ${entry.path} answered ${answer.status}, not ${status}: ${answer.body.slice(0, 300)}`,
        );
      }
      if (scenario.bytes !== undefined && answer.bytes !== scenario.bytes) {
        throw new Error(
          `${scenario.title} / ${entry.label}: GET ${entry.path} answered ${answer.bytes} bytes, not ${scenario.bytes}`,
        );
      }
    }
  }
}

/** The address the load generator's Lua script gives client number `n` (10.0.0.0/8). */
export function clientAddress(n: number): string {
  const m = n % 16_777_216;
  return `10.${Math.floor(m / 65_536)}.${Math.floor(m / 256) % 256}.${m % 256}`;
}

interface Answer extends CannedAnswer {
  readonly bytes: number;
}

const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One GET through node:http (keep-alive), the whole answer read. */
function get(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: '127.0.0.1', port, path, headers, agent: probeAgent, timeout: 10_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('error', reject);
        response.once('end', () => {
          const body = Buffer.concat(chunks);
          // What node:http writes itself, or what belongs to this connection, is left out.
          const own = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);
          const kept: Record<string, string> = {};
          for (let i = 0; i < response.rawHeaders.length; i += 2) {
            const name = response.rawHeaders[i]!;
            if (!own.has(name.toLowerCase())) kept[name] = response.rawHeaders[i + 1]!;
          }
          resolve({
            status: response.statusCode ?? 0,
            headers: kept,
            body: body.toString('utf8'),
            bytes: body.length,
          });
        });
      },
    );
    request.once('timeout', () => request.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    request.once('error', reject);
  });
}

/**
 * Throttles `count` flood clients (client numbers 0 … count-1, as the Lua script names them, or
 * the one `X-Forwarded-For` in `headers`) on `server` before the flood: two requests each under
 * the flood rule, 64 at a time. Returns the answers a throttled client gets: the 429 JSON and the
 * browser's 302, exactly as the gateway sends them.
 */
export async function throttleClients(
  port: number,
  path: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<{ json: CannedAnswer; browser: CannedAnswer }> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const address = clientAddress(next);
      next += 1;
      const named = { ...headers, 'X-Forwarded-For': headers['X-Forwarded-For'] ?? address };
      for (let i = 0; i < 2; i += 1) await get(port, path, { ...JSON_ACCEPT, ...named });
    }
  };
  await Promise.all(Array.from({ length: Math.min(64, count) }, worker));
  const sample = { 'X-Forwarded-For': headers['X-Forwarded-For'] ?? clientAddress(0) };
  const json = await get(port, path, { ...JSON_ACCEPT, ...sample });
  const browser = await get(port, path, { ...BROWSER_ACCEPT, ...sample });
  if (json.status !== 429 || browser.status !== 302) {
    throw new Error(
      `the flood rule did not throttle: GET ${path} answered ${json.status} (JSON) and ${browser.status} (browser), not 429 and 302`,
    );
  }
  return { json, browser };
}

export async function redisGateway(
  config: BenchConfigOptions,
  cpu: string | undefined,
  name = 'gateway (redis)',
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
    return await startServer(name, 'servers/gateway.ts', { cpu, input: config });
  } catch (error) {
    return `the gateway did not start with store.type: redis (${(error as Error).message})`;
  }
}

export async function startFixtures(placement: Placement) {
  const origin = await startOrigin(placement.upstream);
  const upstream = origin.server;
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
  const config = (store: 'memory' | 'redis', flood = false): BenchConfigOptions => ({
    upstreamUrl,
    store,
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    redisPrefix: `${BENCH_RUN_PREFIX}${flood ? 'flood:' : ''}`,
    maxClients: 1_000_000,
    flood,
  });
  return { upstream, upstreamUrl, config, originDescription: origin.description };
}
