// Drives one URL for a fixed time with a real load generator, in a process of its own: wrk when it
// is on PATH (a Lua script writes a new X-Forwarded-For per request, or cycles through a fixed set
// of clients, and reports exact percentiles and the maximum), else autocannon. Every run is
// bounded: the generator is killed if it outlives its time by 30 s.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lastJsonLine, onPath, runCommand, runNodeJob } from './processes.js';

export interface LoadSpec {
  readonly url: string;
  readonly durationS: number;
  readonly connections: number;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * When set, every request carries `X-Forwarded-For` with an address never used before in this
   * bench: 10.0.0.0/8 counted up from this offset.
   */
  readonly newClientFrom?: number;
  /**
   * With `newClientFrom`: the addresses repeat after this many (a flood from a fixed set of
   * clients); without it every address is new.
   */
  readonly clientCycle?: number;
  /**
   * The status every answer should have when it is not 2xx/3xx (a flood's 429): such answers are
   * counted as `expected`, not as errors.
   */
  readonly expectErrorStatus?: boolean;
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The longest any request waited for its answer in the run. */
  readonly maxMs: number;
  /**
   * Answers not of the kind asked for (non-2xx/3xx, or with `expectErrorStatus` 2xx/3xx) plus
   * socket errors and timeouts: any makes the run suspect.
   */
  readonly errors: number;
}

export interface LoadGenerator {
  /** For the report, e.g. "wrk 4.1.0 (1 thread)". */
  readonly description: string;
  run(spec: LoadSpec): Promise<LoadResult>;
  /** Removes the generator's temporary files. */
  close(): void;
}

export async function chooseLoadGenerator(cpu: string | undefined): Promise<LoadGenerator> {
  const forced = process.env.BENCH_LOADGEN === 'autocannon';
  const wrk = forced ? undefined : onPath('wrk');
  return wrk ? createWrk(wrk, cpu) : createAutocannon(cpu, forced);
}

/** What the Lua `done` hook prints; latencies in microseconds. */
interface WrkSummary {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  status_errors: number;
  socket_errors: number;
}

// Lua 5.1 (LuaJIT): no bit operators, hence the arithmetic.
const NEW_CLIENT_LUA = `
local counter = 0
local offset = 0
local cycle = 16777216
function init(args)
  offset = tonumber(args[1]) or 0
  cycle = tonumber(args[2]) or 16777216
end
function request()
  local n = (offset + counter % cycle) % 16777216
  counter = counter + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["X-Forwarded-For"] = "10." .. math.floor(n / 65536) .. "." ..
    (math.floor(n / 256) % 256) .. "." .. (n % 256)
  return wrk.format(nil, nil, headers)
end
`;

const REPORT_LUA = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"status_errors":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
`;

async function createWrk(wrk: string, cpu: string | undefined): Promise<LoadGenerator> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cgw-bench-'));
  const plain = path.join(dir, 'plain.lua');
  const newClient = path.join(dir, 'new-client.lua');
  writeFileSync(plain, REPORT_LUA);
  writeFileSync(newClient, NEW_CLIENT_LUA + REPORT_LUA);
  const removeScripts = () => rmSync(dir, { recursive: true, force: true });
  // Also when the bench is interrupted: processes.ts exits from its signal handlers.
  process.once('exit', removeScripts);
  const version = await runCommand(undefined, wrk, ['--version'], 5_000).catch(() => undefined);
  const name = /wrk \S+/.exec(version?.stdout ?? '')?.[0] ?? 'wrk';
  return {
    description: `${name} (1 thread)`,
    async run(spec) {
      const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '-T10s'];
      for (const [header, value] of Object.entries(spec.headers))
        args.push('-H', `${header}: ${value}`);
      args.push('-s', spec.newClientFrom === undefined ? plain : newClient, spec.url);
      if (spec.newClientFrom !== undefined) {
        args.push('--', String(spec.newClientFrom));
        if (spec.clientCycle !== undefined) args.push(String(spec.clientCycle));
      }
      const { stdout } = await runCommand(cpu, wrk, args, (spec.durationS + 30) * 1000);
      const summary = lastJsonLine<WrkSummary>(stdout, 'wrk');
      // wrk counts answers of 400 and above as status errors: a flood expects nothing else.
      const wrongStatus = spec.expectErrorStatus
        ? summary.requests - summary.status_errors
        : summary.status_errors;
      return {
        requests: summary.requests,
        rps: summary.requests / (summary.duration_us / 1e6),
        p50Ms: summary.p50_us / 1000,
        p99Ms: summary.p99_us / 1000,
        maxMs: summary.max_us / 1000,
        errors: wrongStatus + summary.socket_errors,
      };
    },
    close() {
      removeScripts();
      process.off('exit', removeScripts);
    },
  };
}

function createAutocannon(cpu: string | undefined, forced: boolean): LoadGenerator {
  return {
    description: `autocannon (${forced ? 'BENCH_LOADGEN=autocannon' : 'wrk not on PATH'}; latencies in whole ms)`,
    run(spec) {
      return runNodeJob<LoadResult>(
        'autocannon-driver.ts',
        { cpu, input: spec },
        (spec.durationS + 30) * 1000,
      );
    },
    close() {},
  };
}
