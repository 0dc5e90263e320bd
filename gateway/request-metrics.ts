// gateway_requests_total and gateway_request_duration_seconds (CONTRACT §11), recorded for every
// request into typed arrays and turned into Prometheus series only when scraped: prom-client's own
// inc() and observe() hash their label object on each call, which the profile showed at about
// 1 µs a request on the proxy's hot path.
import { Counter, Histogram, type Registry } from 'prom-client';

type Snapshot = Awaited<ReturnType<Histogram<'outcome'>['get']>>;

/** One series value as prom-client's own Histogram hands it to the registry. */
interface Point {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  /** The text output keeps these apart from `labels`; JSON has them merged in. */
  readonly sharedLabels?: Record<string, string>;
  readonly value: number;
  /** null for buckets, none for _sum and _count: no exemplars are recorded. */
  readonly exemplar: null | undefined;
}

export const OUTCOMES = [
  'proxied',
  'throttled',
  'exempt',
  'captcha_page',
  'captcha_passed',
  'captcha_failed',
  'upstream_error',
  'would_throttle',
  'refused',
] as const;

export type Outcome = (typeof OUTCOMES)[number];

/** Upper bounds in seconds; the last bucket, +Inf, is implied. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const INDEX = Object.fromEntries(OUTCOMES.map((outcome, i) => [outcome, i])) as Record<
  Outcome,
  number
>;
const SLOTS = DURATION_BUCKETS.length + 1;

export class RequestMetrics {
  private readonly counts = new Float64Array(OUTCOMES.length);
  /** Of `counts`, what the Counter has been told so far. */
  private readonly reported = new Float64Array(OUTCOMES.length);
  private readonly sums = new Float64Array(OUTCOMES.length);
  /** Per outcome, observations per bucket (not cumulative); slot SLOTS - 1 is +Inf. */
  private readonly buckets = new Float64Array(OUTCOMES.length * SLOTS);

  constructor(registry: Registry) {
    const { counts, reported } = this;
    new Counter({
      name: 'gateway_requests_total',
      help: 'Requests by what the gateway did with them',
      labelNames: ['outcome'],
      registers: [registry],
      // Called at each scrape: the Counter is told what was counted since the last one.
      collect() {
        for (let i = 0; i < OUTCOMES.length; i++) {
          const delta = counts[i]! - reported[i]!;
          if (delta > 0) this.inc({ outcome: OUTCOMES[i]! }, delta);
          reported[i] = counts[i]!;
        }
      },
    });
    new TallyHistogram(this, registry);
  }

  /** A request is over: counted under `outcome`, its duration in the histogram. */
  record(outcome: Outcome, seconds: number): void {
    const i = INDEX[outcome];
    this.counts[i]! += 1;
    this.sums[i]! += seconds;
    let slot = 0;
    while (slot < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[slot]!) slot++;
    this.buckets[i * SLOTS + slot]! += 1;
  }

  /** Counted, but not timed: a WebSocket tunnel's lifetime says nothing of the gateway's speed. */
  count(outcome: Outcome): void {
    this.counts[INDEX[outcome]]! += 1;
  }

  /**
   * The histogram's series in prom-client's shape, one set per outcome seen so far. `shared`:
   * the outcome label apart, as prom-client's text output reads it; otherwise merged in.
   */
  durationSeries(name: string, shared: boolean): Point[] {
    const values: Point[] = [];
    for (let i = 0; i < OUTCOMES.length; i++) {
      // Every timed request sits in one bucket, so their sum is the histogram's count.
      let count = 0;
      for (let slot = 0; slot < SLOTS; slot++) count += this.buckets[i * SLOTS + slot]!;
      if (count === 0) continue;
      const outcome = { outcome: OUTCOMES[i]! };
      const point = (
        metricName: string,
        labels: Record<string, string | number>,
        value: number,
        exemplar: null | undefined,
      ): Point =>
        shared
          ? { metricName, labels, sharedLabels: outcome, value, exemplar }
          : { metricName, labels: { ...labels, ...outcome }, value, exemplar };
      let cumulative = 0;
      for (let slot = 0; slot < SLOTS; slot++) {
        cumulative += this.buckets[i * SLOTS + slot]!;
        const le = slot < DURATION_BUCKETS.length ? DURATION_BUCKETS[slot]! : '+Inf';
        values.push(point(`${name}_bucket`, { le }, cumulative, null));
      }
      values.push(point(`${name}_sum`, {}, this.sums[i]!, undefined));
      values.push(point(`${name}_count`, {}, count, undefined));
    }
    return values;
  }
}

const DURATION = {
  name: 'gateway_request_duration_seconds',
  help: 'Time from request to the end of the response, by outcome',
};

/**
 * A prom-client Histogram (so the registry, its types and its cluster aggregation take it as one)
 * whose series come from the tally instead of its own per-call bookkeeping.
 */
class TallyHistogram extends Histogram<'outcome'> {
  constructor(
    private readonly tally: RequestMetrics,
    registry: Registry,
  ) {
    super({
      ...DURATION,
      labelNames: ['outcome'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  }

  /** The registry's text output reads this one when it exists (prom-client 15). */
  async getForPromString(): Promise<Snapshot> {
    return this.snapshot(true);
  }

  override async get(): Promise<Snapshot> {
    return this.snapshot(false);
  }

  private snapshot(shared: boolean): Snapshot {
    // At run time `type` is the string prom-client writes, though its typings declare an enum,
    // and values carry its exemplar slots, which its typings leave out.
    return {
      ...DURATION,
      type: 'histogram',
      values: this.tally.durationSeries(DURATION.name, shared),
      aggregator: 'sum',
    } as unknown as Snapshot;
  }
}
