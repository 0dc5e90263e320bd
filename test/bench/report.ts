// Turns the bench's measurements into the markdown it prints: every load run with its ratio to the
// baseline of the same round (p99 and max latency beside each figure), the medians, the floods and
// the shoppers beside them, the memory figures and micro-benchmarks, and each target with
// MET / NOT MET. Pure: all figures come in, one string goes out.
import type { RunResult } from './fixtures.js';
import type { LimiterCase } from './micro/limiter.js';
import type { MemoryFigures } from './micro/memory.js';

export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** What the targets make of it: a proxied workload, a flood, the captcha page, the rest. */
  readonly kind?: 'proxied' | 'flood' | 'captcha' | 'shoppers' | 'headroom';
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

/** The shoppers on one flood gateway in one round: alone, and beside one flood. */
export interface ShopperRecord {
  readonly flood: string;
  readonly server: string;
  readonly round: number;
  readonly alone: RunResult;
  readonly during: RunResult;
  /** The flood itself while the shoppers ran. */
  readonly flooding: RunResult;
}

/** A gateway's memory before and after idle keep-alive connections were opened to it. */
export interface ConnectionFigures {
  readonly connections: number;
  /** How many were asked for: fewer were opened when the open-file limit is lower. */
  readonly wanted: number;
  /** The open-file limit the gateway and the client child ran with. */
  readonly openFileLimit: number;
  /** Whether that limit was raised from the bench's soft limit (to its hard limit, by prlimit). */
  readonly raised: boolean;
  /** Whether full GCs ran before each figure (--expose-gc). */
  readonly collected: boolean;
  readonly before: NodeJS.MemoryUsage;
  readonly after: NodeJS.MemoryUsage;
}

export interface BenchFigures {
  readonly header: readonly string[];
  readonly scenarios: readonly Scenario[];
  readonly runs: readonly RunRecord[];
  readonly shopperRuns: readonly ShopperRecord[];
  readonly rounds: number;
  readonly memory: MemoryFigures | string;
  readonly connections: ConnectionFigures | string;
  readonly limiter: readonly LimiterCase[] | string;
  /** Why the Redis store was not measured; undefined when it was. */
  readonly redisSkipped: string | undefined;
}

export const SERVERS = {
  upstream: 'origin direct',
  baseline: 'bare http-proxy',
  gateway: 'gateway (memory store)',
  gatewayRedis: 'gateway (redis store)',
  fastify: 'fastify + rate-limit + http-proxy',
  koaProxy: 'koa + http-proxy + LRU',
  floodFloor: 'bare node:http (same bytes)',
  koa: 'bare Koa "hello"',
  captcha: 'gateway captcha GET',
} as const;

/** Target 1: the gateway's p99 in every round, at most this many times the baseline's. */
const P99_RATIO = 1.2;
/** Target 2: the longest pause a flood may cause. */
const PAUSE_MS = 50;
/** Target 2: the shoppers "keep their p99": beside a flood, at most this many times alone. */
const SHOPPER_P99_RATIO = 1.2;

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

/** Notes on the runs behind a target: error answers, CPU taken away. */
function runNotes(involved: readonly RunResult[]): string[] {
  const suspect = involved.filter((r) => r.errors > 0).length;
  const disturbed = involved.filter((r) => (r.waitPercent ?? 0) > DISTURBED_WAIT_PERCENT).length;
  return [
    ...(suspect > 0 ? [`${suspect} run(s) had unexpected answers or socket errors: suspect`] : []),
    ...(disturbed > 0
      ? [
          `${disturbed} of ${involved.length} runs waited > ${DISTURBED_WAIT_PERCENT} % for their CPU: disturbed`,
        ]
      : []),
  ];
}

function scenarioRuns(figures: BenchFigures, scenario: string, servers: readonly string[]) {
  return figures.runs
    .filter((r) => r.scenario === scenario && r.round > 0 && servers.includes(r.server))
    .map((r) => r.result);
}

/** p99 ratio to the baseline in every round (the worst round decides). */
function everyRoundP99(figures: BenchFigures, scenario: Scenario, subject: string): TargetRow {
  const perRound = ratios(figures, scenario.id, subject, scenario.baseline, p99);
  const what = `${scenario.title}: p99 vs ${scenario.baseline}, every round`;
  const goal = `≤ ${P99_RATIO}× in every round`;
  if (perRound.length === 0)
    return { number: '1', what, measured: '–', goal, verdict: 'NOT MEASURED' };
  const worst = Math.max(...perRound);
  const notes = runNotes(scenarioRuns(figures, scenario.id, [subject, scenario.baseline]));
  return {
    number: '1',
    what,
    measured: `worst ${fixed(worst)}× (rounds: ${perRound.map((v) => fixed(v)).join(', ')})`,
    goal,
    verdict: worst <= P99_RATIO ? 'MET' : 'NOT MET',
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

/** The gateway's median req/s ratio against each peer's, in the same run. */
function aheadOfPeers(figures: BenchFigures, scenario: Scenario): TargetRow {
  const gateway = median(ratios(figures, scenario.id, SERVERS.gateway, scenario.baseline, rps));
  const peers = [SERVERS.fastify, SERVERS.koaProxy].map((peer) => ({
    peer,
    ratio: median(ratios(figures, scenario.id, peer, scenario.baseline, rps)),
  }));
  const what = `${scenario.title}: req/s ahead of fastify and koa`;
  const goal = 'gateway ratio > each peer ratio';
  if (!Number.isFinite(gateway) || peers.some((p) => !Number.isFinite(p.ratio))) {
    return { number: '1', what, measured: '–', goal, verdict: 'NOT MEASURED' };
  }
  return {
    number: '1',
    what,
    measured: `gateway ${fixed(gateway)}×; ${peers.map((p) => `${p.peer} ${fixed(p.ratio)}×`).join('; ')}`,
    goal,
    verdict: peers.every((p) => gateway > p.ratio) ? 'MET' : 'NOT MET',
  };
}

/** No pause over PAUSE_MS: the worst max latency and event-loop pause over the rounds. */
function floodPauses(figures: BenchFigures, scenario: Scenario, subject: string): TargetRow {
  const results = scenarioRuns(figures, scenario.id, [subject]);
  const what = `${scenario.title}: ${subject}, longest pause`;
  const goal = `≤ ${PAUSE_MS} ms`;
  if (results.length === 0)
    return { number: '2', what, measured: '–', goal, verdict: 'NOT MEASURED' };
  const maxLatency = Math.max(...results.map((r) => r.maxMs));
  const loops = results.map((r) => r.loopDelayMaxMs).filter((v): v is number => v !== undefined);
  const loop = loops.length > 0 ? Math.max(...loops) : Number.NaN;
  const worst = Math.max(maxLatency, Number.isFinite(loop) ? loop : 0);
  const notes = runNotes(results);
  return {
    number: '2',
    what,
    measured: `max latency ${fixed(maxLatency, 1)} ms, event-loop pause ${fixed(loop, 1)} ms (worst round)`,
    goal,
    verdict: worst <= PAUSE_MS ? 'MET' : 'NOT MET',
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

/** The shoppers' p99 beside a flood against alone, same gateway, same round; worst round decides. */
function shoppersKeepP99(figures: BenchFigures, flood: Scenario, server: string): TargetRow {
  const records = figures.shopperRuns.filter((r) => r.flood === flood.id && r.server === server);
  const what = `shoppers beside ${flood.title}: p99 vs alone, ${server}`;
  const goal = `≤ ${SHOPPER_P99_RATIO}× in every round`;
  if (records.length === 0)
    return { number: '2', what, measured: '–', goal, verdict: 'NOT MEASURED' };
  const perRound = records.map((r) => r.during.p99Ms / r.alone.p99Ms);
  const worst = Math.max(...perRound);
  const notes = runNotes(records.flatMap((r) => [r.alone, r.during]));
  return {
    number: '2',
    what,
    measured: `worst ${fixed(worst)}× (rounds: ${records.map((r) => `${fixed(r.during.p99Ms)} vs ${fixed(r.alone.p99Ms)} ms`).join(', ')})`,
    goal,
    verdict: worst <= SHOPPER_P99_RATIO ? 'MET' : 'NOT MET',
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

function targetRows(figures: BenchFigures): TargetRow[] {
  const s = SERVERS;
  const rows: TargetRow[] = [];
  const proxied = figures.scenarios.filter((c) => c.kind === 'proxied');
  const floods = figures.scenarios.filter((c) => c.kind === 'flood');
  for (const scenario of proxied) {
    rows.push(everyRoundP99(figures, scenario, s.gateway));
    rows.push(
      ratioTarget(
        figures,
        '1',
        `${scenario.title}: req/s vs ${s.baseline}, median`,
        scenario.id,
        s.gateway,
        scenario.baseline,
        rps,
        { atLeast: 1.0 },
      ),
    );
    rows.push(aheadOfPeers(figures, scenario));
  }
  for (const scenario of floods) {
    rows.push(
      ratioTarget(
        figures,
        '2',
        `${scenario.title}: intercepted answers/s vs ${scenario.baseline}`,
        scenario.id,
        s.gateway,
        scenario.baseline,
        rps,
        { atLeast: 0.8 },
      ),
    );
    for (const subject of scenario.subjects) rows.push(floodPauses(figures, scenario, subject));
    for (const subject of scenario.subjects) rows.push(shoppersKeepP99(figures, scenario, subject));
  }
  for (const scenario of [...proxied, ...floods]) {
    if (figures.redisSkipped !== undefined) {
      rows.push({
        number: '3',
        what: 'redis store vs memory store, every workload',
        measured: '–',
        goal: '≥ 0.8×',
        verdict: 'NOT MEASURED',
        note: figures.redisSkipped,
      });
      break;
    }
    rows.push(
      ratioTarget(
        figures,
        '3',
        `${scenario.title}: redis store req/s vs memory store`,
        scenario.id,
        s.gatewayRedis,
        s.gateway,
        rps,
        { atLeast: 0.8 },
      ),
    );
  }

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
    rows.push(connectionRow(figures.connections));
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
    rows.push(connectionRow(figures.connections));
    const growth = memory.rssAtTwiceBoundBytes / memory.rssAtBoundBytes - 1;
    const later = memory.rssAtThriceBoundBytes / memory.rssAtTwiceBoundBytes - 1;
    const percent = (x: number) => `${x >= 0 ? '+' : ''}${fixed(100 * x, 1)} %`;
    rows.push({
      number: 'earlier',
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
      number: 'earlier',
      what: `RSS flat while evicting: ${(2 * memory.maxClients).toLocaleString('en-US')} → ${(3 * memory.maxClients).toLocaleString('en-US')} distinct clients`,
      measured: `RSS ${percent(later)}, heap ${percent(memory.heapAtThriceBoundBytes / memory.heapAtTwiceBoundBytes - 1)}; process heap ÷ clients at 2×: ${fixed(memory.heapAtTwiceBoundBytes / memory.maxClients, 0)} B`,
      goal: 'RSS at 3× within 10 % of RSS at 2×',
      verdict: Math.abs(later) <= 0.1 ? 'MET' : 'NOT MET',
    });
  }

  const limiter = figures.limiter;
  if (typeof limiter === 'string') {
    rows.push({
      number: 'earlier',
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
      number: 'earlier',
      what: 'limiter alone (MemoryStore.hit), slowest of the store cases',
      measured: `${integer(slowest)}/s`,
      goal: '≥ 1,000,000/s',
      verdict: slowest >= 1_000_000 ? 'MET' : 'NOT MET',
    });
  }

  rows.push(
    ratioTarget(
      figures,
      'earlier',
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

function connectionRow(figures: ConnectionFigures | string): TargetRow {
  const what = 'idle keep-alive client connections: memory per connection';
  if (typeof figures === 'string') {
    return {
      number: '4',
      what,
      measured: '–',
      goal: 'a figure',
      verdict: 'NOT MEASURED',
      note: figures,
    };
  }
  const per = (field: 'rss' | 'heapUsed') =>
    (figures.after[field] - figures.before[field]) / figures.connections;
  const scaled =
    figures.connections < figures.wanted
      ? `; ${figures.connections.toLocaleString('en-US')} connections, not ${figures.wanted.toLocaleString('en-US')} (ulimit -n ${figures.openFileLimit}): ×${fixed(figures.wanted / figures.connections, 1)} for the ${figures.wanted.toLocaleString('en-US')} figure`
      : '';
  return {
    number: '4',
    what: `${figures.connections.toLocaleString('en-US')} ${what}`,
    measured: `RSS ${integer(per('rss'))} B, heap ${integer(per('heapUsed'))} B per connection (RSS ${mb(figures.before.rss)} → ${mb(figures.after.rss)}, heap ${mb(figures.before.heapUsed)} → ${mb(figures.after.heapUsed)}${figures.collected ? ', after full GCs' : ''})${scaled}`,
    goal: 'a figure',
    verdict: 'MET',
  };
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
        fixed(run.result.maxMs, 1),
        fixed(run.result.loopDelayMaxMs ?? Number.NaN, 1),
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
        'max ms',
        'loop pause ms',
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
      const loops = results.map((r) => r.loopDelayMaxMs ?? Number.NaN);
      medianRows.push([
        scenario.title,
        server,
        integer(median(results.map(rps))),
        fixed(median(results.map((r) => r.p50Ms))),
        fixed(median(results.map(p99))),
        results.map((r) => fixed(r.p99Ms)).join(', '),
        results.map((r) => fixed(r.maxMs, 0)).join(', '),
        fixed(Math.max(...loops), 1),
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
        'p99 ms per round',
        'max ms per round',
        'worst loop pause ms',
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

  out.push(
    '### Shoppers beside a flood (same gateway, same round: alone, then with the flood)',
    '',
  );
  if (figures.shopperRuns.length === 0) out.push('not measured', '');
  else {
    out.push(
      table(
        [
          'flood',
          'gateway',
          'round',
          'shoppers req/s alone / during',
          'p99 ms alone / during',
          'max ms alone / during',
          'p99 ratio',
          'flood answers/s',
          'flood max ms',
          'loop pause ms during',
          'errors',
        ],
        figures.shopperRuns.map((r) => [
          figures.scenarios.find((c) => c.id === r.flood)?.title ?? r.flood,
          r.server,
          String(r.round),
          `${integer(r.alone.rps)} / ${integer(r.during.rps)}`,
          `${fixed(r.alone.p99Ms)} / ${fixed(r.during.p99Ms)}`,
          `${fixed(r.alone.maxMs, 1)} / ${fixed(r.during.maxMs, 1)}`,
          fixed(r.during.p99Ms / r.alone.p99Ms),
          integer(r.flooding.rps),
          fixed(r.flooding.maxMs, 1),
          fixed(r.flooding.loopDelayMaxMs ?? Number.NaN, 1),
          String(r.alone.errors + r.during.errors + r.flooding.errors),
        ]),
      ),
      '',
    );
  }
  out.push(
    '"loop pause" is the longest event-loop delay inside the server process during the run ' +
      '(perf_hooks.monitorEventLoopDelay, 10 ms resolution, read over a command on its stdin). ' +
      'In a flood, "errors" counts answers below 400 (a throttled client that got through, e.g. ' +
      'when the Redis store failed open) and socket errors; wrk counts every answer of 400 and ' +
      "above as intercepted, so a 503 would pass for one (the gateway's metrics tell them apart).",
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

  out.push('### Idle keep-alive connections', '');
  if (typeof figures.connections === 'string') out.push(`not measured: ${figures.connections}`, '');
  else {
    const c = figures.connections;
    out.push(
      table(
        [
          'connections',
          'RSS before → after',
          'heap before → after',
          'external before → after',
          'RSS/conn',
          'heap/conn',
        ],
        [
          [
            `${c.connections.toLocaleString('en-US')} (asked ${c.wanted.toLocaleString('en-US')}, ulimit -n ${c.openFileLimit}${c.raised ? ', raised to the hard limit by prlimit' : ''})`,
            `${mb(c.before.rss)} → ${mb(c.after.rss)}`,
            `${mb(c.before.heapUsed)} → ${mb(c.after.heapUsed)}`,
            `${mb(c.before.external)} → ${mb(c.after.external)}`,
            `${integer((c.after.rss - c.before.rss) / c.connections)} B`,
            `${integer((c.after.heapUsed - c.before.heapUsed) / c.connections)} B`,
          ],
        ],
      ),
      '',
    );
  }

  out.push('### Targets', '');
  out.push(
    '1: proxied answers (p99 in every round, req/s, the peers); 2: floods (answers/s, pauses, ' +
      'the shoppers beside them); 3: the Redis store; 4: memory. Rows marked "earlier" are what ' +
      'the bench checked before (limiter speed, RSS flat past the bound, the captcha page).',
    '',
  );
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
