// Turns the bench's measurements into the markdown it prints: every load run with its ratio to the
// baseline of the same round, the medians, the micro-benchmarks, and each target of issue 6 with
// MET / NOT MET. Pure: all figures come in, one string goes out.
import type { RunResult } from './fixtures.js';
import type { LimiterCase } from './micro/limiter.js';
import type { MemoryFigures } from './micro/memory.js';

export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** The server every other server of the scenario is divided by, round by round. */
  readonly baseline: string;
  readonly subjects: readonly string[];
}

export interface RunRecord {
  readonly scenario: string;
  readonly server: string;
  /** 1-based; 0 for runs outside the rounds (the upstream sanity run). */
  readonly round: number;
  readonly result: RunResult;
}

export interface BenchFigures {
  readonly header: readonly string[];
  readonly scenarios: readonly Scenario[];
  readonly runs: readonly RunRecord[];
  readonly rounds: number;
  readonly memory: MemoryFigures | string;
  readonly limiter: readonly LimiterCase[] | string;
  /** Why the Redis store was not measured; undefined when it was. */
  readonly redisSkipped: string | undefined;
}

export const SERVERS = {
  upstream: 'upstream direct',
  baseline: 'bare http-proxy',
  gateway: 'gateway (memory store)',
  gatewayRedis: 'gateway (redis store)',
  koa: 'bare Koa "hello"',
  captcha: 'gateway captcha GET',
} as const;

const TARGET_MEMORY_CLIENTS = 1_000_000;
/** A run whose main thread waited longer than this for its CPU is flagged as disturbed. */
const DISTURBED_WAIT_PERCENT = 20;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const integer = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fixed = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function find(runs: readonly RunRecord[], scenario: string, server: string, round: number) {
  return runs.find((r) => r.scenario === scenario && r.server === server && r.round === round)
    ?.result;
}

/** Per-round ratios of `pick(subject) / pick(base)`, for rounds where both ran. */
function ratios(
  figures: BenchFigures,
  scenario: string,
  subject: string,
  base: string,
  pick: (result: RunResult) => number,
): number[] {
  const out: number[] = [];
  for (let round = 1; round <= figures.rounds; round += 1) {
    const a = find(figures.runs, scenario, subject, round);
    const b = find(figures.runs, scenario, base, round);
    if (a && b) out.push(pick(a) / pick(b));
  }
  return out;
}

const rps = (r: RunResult) => r.rps;
const p99 = (r: RunResult) => r.p99Ms;
/** Requests per CPU-second: its ratio is the req/s ratio one undisturbed CPU would give. */
const perCpu = (r: RunResult) =>
  r.cpuUsPerRequest === undefined ? Number.NaN : 1e6 / r.cpuUsPerRequest;

type Verdict = 'MET' | 'NOT MET' | 'NOT MEASURED';

interface TargetRow {
  readonly number: string;
  readonly what: string;
  readonly measured: string;
  readonly goal: string;
  readonly verdict: Verdict;
  readonly note?: string;
}

function ratioTarget(
  figures: BenchFigures,
  number: string,
  what: string,
  scenario: string,
  subject: string,
  base: string,
  pick: (result: RunResult) => number,
  goal: { atLeast?: number; atMost?: number },
): TargetRow {
  const perRound = ratios(figures, scenario, subject, base, pick);
  const goalText = goal.atLeast !== undefined ? `≥ ${goal.atLeast}×` : `≤ ${goal.atMost}×`;
  if (perRound.length === 0) {
    return { number, what, measured: '–', goal: goalText, verdict: 'NOT MEASURED' };
  }
  const value = median(perRound);
  const met = goal.atLeast !== undefined ? value >= goal.atLeast : value <= goal.atMost!;
  const byCpu =
    pick === rps ? median(ratios(figures, scenario, subject, base, perCpu)) : Number.NaN;
  const cpuText = Number.isFinite(byCpu) ? `; by CPU per request ${fixed(byCpu)}×` : '';
  const involved = figures.runs.filter(
    (r) => r.scenario === scenario && r.round > 0 && (r.server === subject || r.server === base),
  );
  const suspect = involved.filter((r) => r.result.errors > 0).length;
  const disturbed = involved.filter((r) => (r.result.waitPercent ?? 0) > DISTURBED_WAIT_PERCENT);
  const notes = [
    ...(suspect > 0 ? [`${suspect} run(s) had error responses: suspect`] : []),
    ...(disturbed.length > 0
      ? [
          `${disturbed.length} of ${involved.length} runs waited > ${DISTURBED_WAIT_PERCENT} % for their CPU: disturbed`,
        ]
      : []),
  ];
  return {
    number,
    what,
    measured: `${fixed(value)}× (rounds: ${perRound.map((v) => fixed(v)).join(', ')})${cpuText}`,
    goal: goalText,
    verdict: met ? 'MET' : 'NOT MET',
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

function targetRows(figures: BenchFigures): TargetRow[] {
  const s = SERVERS;
  const rows: TargetRow[] = [
    ratioTarget(
      figures,
      '1',
      'one client, req/s vs bare http-proxy',
      'one-client',
      s.gateway,
      s.baseline,
      rps,
      { atLeast: 0.9 },
    ),
    ratioTarget(
      figures,
      '1',
      'one client, p99 latency vs bare http-proxy',
      'one-client',
      s.gateway,
      s.baseline,
      p99,
      { atMost: 1.2 },
    ),
    ratioTarget(
      figures,
      '2',
      'new client IP per request, req/s vs bare http-proxy',
      'new-client',
      s.gateway,
      s.baseline,
      rps,
      { atLeast: 0.9 },
    ),
    ratioTarget(
      figures,
      '3',
      '64 KiB responses, req/s vs bare http-proxy',
      'large',
      s.gateway,
      s.baseline,
      rps,
      { atLeast: 0.95 },
    ),
  ];

  const memory = figures.memory;
  if (typeof memory === 'string') {
    rows.push({
      number: '4',
      what: 'heap per tracked client',
      measured: '–',
      goal: '≤ 256 B',
      verdict: 'NOT MEASURED',
      note: memory,
    });
  } else {
    const at = memory.maxClients.toLocaleString('en-US');
    const scaled =
      memory.maxClients === TARGET_MEMORY_CLIENTS ? '' : `at ${at}, not the target's 1,000,000`;
    rows.push({
      number: '4',
      what: `heap per tracked client, max_clients ${at}`,
      measured: `${fixed(memory.heapBytesPerClient, 0)} B (heap + external: ${fixed(memory.heapAndExternalBytesPerClient, 0)} B)`,
      goal: '≤ 256 B',
      verdict: memory.heapBytesPerClient <= 256 ? 'MET' : 'NOT MET',
      ...(scaled ? { note: scaled } : {}),
    });
    const growth = memory.rssAtTwiceBoundBytes / memory.rssAtBoundBytes - 1;
    const later = memory.rssAtThriceBoundBytes / memory.rssAtTwiceBoundBytes - 1;
    const percent = (x: number) => `${x >= 0 ? '+' : ''}${fixed(100 * x, 1)} %`;
    rows.push({
      number: '4',
      what: `RSS flat past the bound: ${at} → ${(2 * memory.maxClients).toLocaleString('en-US')} distinct clients`,
      measured:
        `RSS ${mb(memory.rssAtBoundBytes)} → ${mb(memory.rssAtTwiceBoundBytes)} (${percent(growth)}), ` +
        `then ${mb(memory.rssAtThriceBoundBytes)} at 3× (${percent(later)}); heap ` +
        `${mb(memory.heapAtBoundBytes)} → ${mb(memory.heapAtTwiceBoundBytes)} → ${mb(memory.heapAtThriceBoundBytes)}`,
      goal: 'RSS at 2× within 10 % of RSS at 1×',
      verdict: growth <= 0.1 ? 'MET' : 'NOT MET',
    });
    // The first evictions can grow the key table of the LRU once (V8 doubles a Map's table when
    // deleted entries fill it); what matters after that is that nothing keeps growing.
    rows.push({
      number: '4',
      what: `RSS flat while evicting: ${(2 * memory.maxClients).toLocaleString('en-US')} → ${(3 * memory.maxClients).toLocaleString('en-US')} distinct clients`,
      measured: `RSS ${percent(later)}, heap ${percent(memory.heapAtThriceBoundBytes / memory.heapAtTwiceBoundBytes - 1)}; process heap ÷ clients at 2×: ${fixed(memory.heapAtTwiceBoundBytes / memory.maxClients, 0)} B`,
      goal: 'RSS at 3× within 10 % of RSS at 2×',
      verdict: Math.abs(later) <= 0.1 ? 'MET' : 'NOT MET',
    });
  }

  const limiter = figures.limiter;
  if (typeof limiter === 'string') {
    rows.push({
      number: '5',
      what: 'limiter decisions/s',
      measured: '–',
      goal: '≥ 1,000,000/s',
      verdict: 'NOT MEASURED',
      note: limiter,
    });
  } else {
    const storeCases = limiter.filter((c) => c.storeOnly);
    const slowest = Math.min(...storeCases.map((c) => c.decisionsPerS));
    rows.push({
      number: '5',
      what: 'limiter alone (MemoryStore.hit), slowest of the store cases',
      measured: `${integer(slowest)}/s`,
      goal: '≥ 1,000,000/s',
      verdict: slowest >= 1_000_000 ? 'MET' : 'NOT MET',
    });
  }

  if (figures.redisSkipped !== undefined) {
    rows.push({
      number: '6',
      what: 'redis store req/s vs memory store',
      measured: '–',
      goal: '≥ 0.75×',
      verdict: 'NOT MEASURED',
      note: figures.redisSkipped,
    });
  } else {
    rows.push(
      ratioTarget(
        figures,
        '6',
        'redis store req/s vs memory store (one client)',
        'one-client',
        s.gatewayRedis,
        s.gateway,
        rps,
        { atLeast: 0.75 },
      ),
    );
  }
  rows.push(
    ratioTarget(
      figures,
      '7',
      'captcha GET (JSON: token + render) vs bare Koa "hello"',
      'captcha',
      s.captcha,
      s.koa,
      rps,
      { atLeast: 0.8 },
    ),
  );
  return rows;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderReport(figures: BenchFigures): string {
  const out: string[] = [
    '## captcha-gateway bench',
    '',
    ...figures.header.map((h) => `- ${h}`),
    '',
  ];

  out.push('### Load runs (ratios to the baseline of the same round)', '');
  const runRows: string[][] = [];
  for (const scenario of figures.scenarios) {
    for (const run of figures.runs.filter((r) => r.scenario === scenario.id)) {
      const base =
        run.server === scenario.baseline
          ? undefined
          : find(figures.runs, scenario.id, scenario.baseline, run.round);
      runRows.push([
        scenario.title,
        run.server,
        run.round === 0 ? '–' : String(run.round),
        integer(run.result.rps),
        fixed(run.result.p50Ms),
        fixed(run.result.p99Ms),
        String(run.result.errors),
        fixed(run.result.cpuUsPerRequest ?? Number.NaN, 1),
        fixed(run.result.waitPercent ?? Number.NaN, 1),
        fixed(run.result.otherThreadsPercent ?? Number.NaN, 0),
        base ? fixed(run.result.rps / base.rps) : '',
        base ? fixed(run.result.p99Ms / base.p99Ms) : '',
        base ? fixed(perCpu(run.result) / perCpu(base)) : '',
      ]);
    }
  }
  out.push(
    table(
      [
        'scenario',
        'server',
        'round',
        'req/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'CPU µs/req',
        'CPU wait %',
        'other threads %',
        'req/s ÷ base',
        'p99 ÷ base',
        'by CPU ÷ base',
      ],
      runRows,
    ),
    '',
  );

  out.push(`### Medians over ${figures.rounds} round(s)`, '');
  const medianRows: string[][] = [];
  for (const scenario of figures.scenarios) {
    for (const server of [scenario.baseline, ...scenario.subjects]) {
      const results = figures.runs
        .filter((r) => r.scenario === scenario.id && r.server === server && r.round > 0)
        .map((r) => r.result);
      if (results.length === 0) continue;
      const isBase = server === scenario.baseline;
      medianRows.push([
        scenario.title,
        server,
        integer(median(results.map(rps))),
        fixed(median(results.map((r) => r.p50Ms))),
        fixed(median(results.map(p99))),
        fixed(median(results.map((r) => r.cpuUsPerRequest ?? Number.NaN)), 1),
        isBase
          ? '1.00 (base)'
          : fixed(median(ratios(figures, scenario.id, server, scenario.baseline, rps))),
        isBase ? '' : fixed(median(ratios(figures, scenario.id, server, scenario.baseline, p99))),
        isBase
          ? ''
          : fixed(median(ratios(figures, scenario.id, server, scenario.baseline, perCpu))),
      ]);
    }
  }
  out.push(
    table(
      [
        'scenario',
        'server',
        'req/s',
        'p50 ms',
        'p99 ms',
        'CPU µs/req',
        'req/s ratio',
        'p99 ratio',
        'by CPU ratio',
      ],
      medianRows,
    ),
    '',
  );
  out.push(
    'Ratios are medians of the per-round ratios, not ratios of the medians. "CPU µs/req" is the ' +
      'server process\'s CPU time (all threads, from /proc) per request answered; the "by CPU" ' +
      'ratio (base CPU/request ÷ server CPU/request) is the req/s ratio one undisturbed CPU would ' +
      'give, and moves least when a shared machine takes CPU away ("CPU wait %": how long the ' +
      'server\'s main thread waited for its CPU; "other threads %": CPU used by its other threads, ' +
      "V8's GC helpers and libuv's pool, which share the pinned CPU with the main thread). A target " +
      `whose runs waited more than ${DISTURBED_WAIT_PERCENT} % for their CPU says so: rerun it on a quieter machine.`,
    '',
  );

  out.push('### Limiter alone (in process, one CPU, each decision awaited, best of 5 slices)', '');
  if (typeof figures.limiter === 'string') out.push(`not measured: ${figures.limiter}`, '');
  else {
    out.push(
      table(
        ['case', 'decisions/s'],
        figures.limiter.map((c) => [c.name, integer(c.decisionsPerS)]),
      ),
      '',
    );
  }

  out.push(
    '### Memory (real MemoryStore, store.hit per distinct client, after full GCs; per-client figures include what the empty store preallocates)',
    '',
  );
  if (typeof figures.memory === 'string') out.push(`not measured: ${figures.memory}`, '');
  else {
    const m = figures.memory;
    out.push(
      table(
        [
          'max_clients',
          'heap/client',
          'heap+external/client',
          'empty store heap',
          'heap at 1× / 2× / 3× bound',
          'RSS at 1× / 2× / 3× bound',
          'insert time (1×)',
        ],
        [
          [
            m.maxClients.toLocaleString('en-US'),
            `${fixed(m.heapBytesPerClient, 0)} B`,
            `${fixed(m.heapAndExternalBytesPerClient, 0)} B`,
            mb(m.emptyStoreHeapBytes),
            [m.heapAtBoundBytes, m.heapAtTwiceBoundBytes, m.heapAtThriceBoundBytes]
              .map(mb)
              .join(' / '),
            [m.rssAtBoundBytes, m.rssAtTwiceBoundBytes, m.rssAtThriceBoundBytes]
              .map(mb)
              .join(' / '),
            `${fixed(m.insertSeconds, 1)} s`,
          ],
        ],
      ),
      '',
    );
  }

  out.push('### Targets', '');
  out.push(
    table(
      ['#', 'target', 'measured', 'goal', 'verdict'],
      targetRows(figures).map((t) => [
        t.number,
        t.what,
        t.note === undefined
          ? t.measured
          : t.measured === '–'
            ? `not measured: ${t.note}`
            : `${t.measured} (${t.note})`,
        t.goal,
        t.verdict,
      ]),
    ),
    '',
  );
  return out.join('\n');
}
