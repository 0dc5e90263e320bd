// The bench's knobs: `--quick` for a smoke run of seconds, `--profile[=DIR]` for CPU profiles
// instead of figures, `--save` to keep the report under test/bench/results/, BENCH_DURATION /
// BENCH_ROUNDS to trade time for steadier figures. (The load generator reads
// BENCH_LOADGEN=autocannon, the origin BENCH_ORIGIN=node, and the Redis figure REDIS_URL.)

export interface BenchOptions {
  readonly quick: boolean;
  /** Seconds of load per run. */
  readonly durationS: number;
  /** Seconds of load per target before the first round (JIT warm-up), 0 for none. */
  readonly warmupS: number;
  readonly rounds: number;
  /** Keep-alive connections of the load generator. */
  readonly connections: number;
  /** Keep-alive connections of the shoppers driven beside a flood. */
  readonly shopperConnections: number;
  /** Distinct throttled clients of the many-clients flood. */
  readonly floodClients: number;
  /** Idle keep-alive connections held open for the connection-memory figure (fd limit permitting). */
  readonly idleConnections: number;
  /** Set: also write the report to test/bench/results/<date>.md. */
  readonly save: boolean;
  /** max_clients of the memory figure (target 4 is stated at 1,000,000). */
  readonly memoryClients: number;
  /** Seconds per limiter micro-benchmark case. */
  readonly limiterS: number;
  /** Set: write CPU profiles here and summarise them, instead of measuring. */
  readonly profileDir: string | undefined;
}

const DEFAULT_PROFILE_DIR = 'test/artifacts/bench-profiles';

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const unknown = argv.filter(
    (arg) => arg !== '--quick' && arg !== '--save' && !/^--profile(=.+)?$/.test(arg),
  );
  if (unknown.length > 0) {
    throw new Error(
      `unknown argument ${unknown.join(' ')} (use --quick, --save, --profile[=DIR]; env BENCH_DURATION, BENCH_ROUNDS, BENCH_LOADGEN, BENCH_ORIGIN, REDIS_URL)`,
    );
  }
  const quick = argv.includes('--quick');
  const profile = argv.find((arg) => arg.startsWith('--profile'));
  return {
    quick,
    durationS: positiveInteger(env, 'BENCH_DURATION', quick ? 1 : 5),
    warmupS: quick ? 0 : 2,
    rounds: positiveInteger(env, 'BENCH_ROUNDS', quick ? 1 : 5),
    connections: 64,
    shopperConnections: 8,
    floodClients: 10_000,
    idleConnections: quick ? 1_000 : 10_000,
    save: argv.includes('--save'),
    memoryClients: quick ? 100_000 : 1_000_000,
    limiterS: quick ? 0.25 : 2,
    profileDir: profile === undefined ? undefined : (profile.split('=')[1] ?? DEFAULT_PROFILE_DIR),
  };
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // BENCH_DURATION may carry a unit, as wrk's own -d does: "10" and "10s" are the same.
  const value = Number(raw.replace(/s$/, ''));
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name}: ${JSON.stringify(raw)} is not a whole number of at least 1`);
  }
  return value;
}
