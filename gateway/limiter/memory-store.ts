// The in-process Store: sliding-window counters in an LRU cache bounded by `throttle.max_clients`,
// and throttles apart, bounded by `throttle.max_throttled`. A throttle is never evicted: it lasts
// its block whatever the churn of clients. When `max_throttled` live throttles are held, a new
// offender is not recorded as throttled; its own counter still holds it (each request over the
// limit is intercepted) until its sliding count falls back under the limit.
import { LRUCache } from 'lru-cache';
import { addHit, emptyCounter, type WindowCounter } from './sliding-window.js';
import type { Quota, Store, ThrottledPage, WindowLimit } from './store.js';

/** Clients whose captcha attempts are tracked at once, at most. */
const MAX_ATTEMPT_CLIENTS = 100_000;

/** Full sweeps of a throttle table full of live throttles happen at most this often. */
const SWEEP_INTERVAL_MS = 1000;

export interface MemoryStoreOptions {
  /** Clients whose counters are kept; the least recently seen are forgotten beyond it. */
  readonly maxClients: number;
  /** Throttles held at once; default `maxClients`. */
  readonly maxThrottled?: number;
  /**
   * Called when a throttle could not be recorded for want of room, once per episode: again only
   * after a throttle was recorded since.
   */
  readonly onThrottlesFull?: () => void;
}

/**
 * A client's counters: the default limit's (id '') inline, so the usual client costs one object;
 * the rules' in a map by rule name, made when a rule first counts the client.
 */
class ClientCounters implements WindowCounter {
  start = -Infinity;
  current = 0;
  previous = 0;
  rules: Record<string, WindowCounter> | undefined = undefined;

  of(id: string): WindowCounter {
    if (id === '') return this;
    this.rules ??= {};
    return (this.rules[id] ??= emptyCounter());
  }
}

export class MemoryStore implements Store {
  private readonly counters: LRUCache<string, ClientCounters>;
  private readonly attempts: LRUCache<string, WindowCounter>;
  /**
   * Epoch ms until which each client is throttled. A Map rather than an LRU: nothing is evicted
   * for room, and its insertion order is close to expiry order (one `block` for all), so expired
   * throttles are found at its front.
   */
  private readonly throttles = new Map<string, number>();
  private readonly maxThrottled: number;
  private nextSweepMs = -Infinity;
  private full = false;
  private readonly onThrottlesFull: () => void;

  constructor({ maxClients, maxThrottled = maxClients, onThrottlesFull }: MemoryStoreOptions) {
    this.counters = new LRUCache({ max: maxClients });
    // lru-cache allocates its arrays for `max` up front; captcha attempts come from far fewer
    // clients than requests do, so their bound need not cost a million slots.
    this.attempts = new LRUCache({ max: Math.min(maxClients, MAX_ATTEMPT_CLIENTS) });
    this.maxThrottled = maxThrottled;
    this.onThrottlesFull = onThrottlesFull ?? (() => {});
  }

  async hit(
    client: string,
    limits: readonly WindowLimit[],
    blockMs: number,
    nowMs: number,
    quota?: Quota,
  ) {
    const until = this.currentThrottle(client, nowMs);
    if (until !== 0) {
      if (quota) fill(quota, 0, 0);
      return until;
    }
    let counters = this.counters.get(client);
    if (counters === undefined) {
      counters = new ClientCounters();
      this.counters.set(client, counters);
    }
    let over = false;
    let remaining = Infinity;
    let tightest = 0;
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i]!;
      const count = addHit(counters.of(limit.id), limit.windowMs, nowMs);
      if (count > limit.limit) over = true;
      if (limit.limit - count < remaining) {
        remaining = limit.limit - count;
        tightest = i;
      }
    }
    // Counts are fractional (sliding-window.ts); what is left is whole requests.
    if (quota) fill(quota, Math.max(0, Math.floor(remaining)), tightest);
    if (!over) return 0;
    const throttledUntil = nowMs + blockMs;
    // Not recorded when the table is full: this request is still intercepted, and so is every
    // next one while the counter stays over the limit.
    if (this.roomForThrottle(nowMs)) {
      this.throttles.set(client, throttledUntil);
      this.full = false;
    } else if (!this.full) {
      this.full = true;
      this.onThrottlesFull();
    }
    return throttledUntil;
  }

  async attempt(client: string, limit: WindowLimit, nowMs: number) {
    let counter = this.attempts.get(client);
    if (counter === undefined) this.attempts.set(client, (counter = emptyCounter()));
    return addHit(counter, limit.windowMs, nowMs) <= limit.limit;
  }

  async throttledUntil(client: string, nowMs: number) {
    return this.currentThrottle(client, nowMs);
  }

  async throttle(client: string, untilMs: number) {
    // An operator's decision is always kept, past max_throttled if need be. Deleted first so the
    // table's order stays the order throttles were set in.
    this.throttles.delete(client);
    this.throttles.set(client, untilMs);
  }

  async release(client: string) {
    this.throttles.delete(client);
    this.counters.delete(client);
  }

  async throttled(cursor: string, count: number, nowMs: number): Promise<ThrottledPage> {
    // The cursor is an offset into the table's order: pages may shift as throttles come and go,
    // which an operator's listing tolerates.
    const offset = Number(cursor) || 0;
    const clients: { client: string; untilMs: number }[] = [];
    let index = 0;
    for (const [client, untilMs] of this.throttles.entries()) {
      if (index++ < offset) continue;
      if (untilMs > nowMs) clients.push({ client, untilMs });
      if (index - offset >= count) break;
    }
    return { clients, cursor: index < this.throttles.size ? String(index) : '' };
  }

  async countThrottled(nowMs: number) {
    let count = 0;
    for (const untilMs of this.throttles.values()) if (untilMs > nowMs) count += 1;
    return count;
  }

  async ping() {}

  async close() {
    this.counters.clear();
    this.attempts.clear();
    this.throttles.clear();
  }

  /**
   * True when one more throttle fits under max_throttled, after dropping expired ones: first from
   * the front (the oldest), then, at most once a SWEEP_INTERVAL_MS, from the whole table (throttles
   * set by an operator or under another `block` expire out of order).
   */
  private roomForThrottle(nowMs: number): boolean {
    const { throttles } = this;
    if (throttles.size < this.maxThrottled) return true;
    for (const [client, untilMs] of throttles) {
      if (untilMs > nowMs) break;
      throttles.delete(client);
    }
    if (throttles.size < this.maxThrottled) return true;
    if (nowMs < this.nextSweepMs) return false;
    this.nextSweepMs = nowMs + SWEEP_INTERVAL_MS;
    for (const [client, untilMs] of throttles) if (untilMs <= nowMs) throttles.delete(client);
    return throttles.size < this.maxThrottled;
  }

  private currentThrottle(client: string, nowMs: number): number {
    const until = this.throttles.get(client);
    if (until === undefined) return 0;
    if (until > nowMs) return until;
    this.throttles.delete(client);
    return 0;
  }
}

function fill(quota: Quota, remaining: number, index: number): void {
  quota.remaining = remaining;
  quota.index = index;
}
