// The limiter's state behind one async interface, so memory and Redis stores are interchangeable
// and run the same contract test suite. All times are epoch milliseconds passed in by the caller.

/** One sliding-window counter a request is counted against. */
export interface WindowLimit {
  /** Names the counter: "" for the default limit, the rule's name otherwise. */
  readonly id: string;
  /** Requests allowed per window; request limit+1 in a window throttles the client. */
  readonly limit: number;
  readonly windowMs: number;
}

/** What a client has left, filled in by `hit` when asked for (the RateLimit headers). */
export interface Quota {
  /** Requests left in the tightest window: limit minus the sliding count, at least 0. */
  remaining: number;
  /** Index into `limits` of that window. */
  index: number;
}

/** One page of throttled clients. */
export interface ThrottledPage {
  readonly clients: readonly { readonly client: string; readonly untilMs: number }[];
  /** Pass it back for the next page; '' when there is none. */
  readonly cursor: string;
}

export interface Store {
  /**
   * Counts one request of `client` in each of `limits`, unless the client is throttled already.
   * When a count then exceeds its limit the client is throttled until `nowMs + blockMs`.
   * Atomic per client. Returns the epoch ms until which the client is throttled, 0 when it is not.
   * When `quota` is given it is filled in from the same atomic step (a throttled client has 0 left).
   */
  hit(
    client: string,
    limits: readonly WindowLimit[],
    blockMs: number,
    nowMs: number,
    quota?: Quota,
  ): Promise<number>;
  /** Counts one captcha attempt of `client`; true while the attempts stay within `limit`. */
  attempt(client: string, limit: WindowLimit, nowMs: number): Promise<boolean>;
  /** Epoch ms until which `client` is throttled, 0 when it is not. */
  throttledUntil(client: string, nowMs: number): Promise<number>;
  /** Throttles `client` until `untilMs` (an operator's decision). */
  throttle(client: string, untilMs: number): Promise<void>;
  /** Lifts the throttle of `client` and resets its request counters (captcha passed). */
  release(client: string): Promise<void>;
  /**
   * One page of the clients throttled at `nowMs`: start with cursor '' and go on while the answer's
   * cursor is not ''. A page holds about `count` clients (Redis SCAN may give more or fewer).
   */
  throttled(cursor: string, count: number, nowMs: number): Promise<ThrottledPage>;
  /** How many clients are throttled at `nowMs`: exact in memory, an estimate on Redis. */
  countThrottled(nowMs: number): Promise<number>;
  /** Resolves when the store answers; rejects when it does not (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
