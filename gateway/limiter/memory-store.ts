// The in-process Store: sliding-window counters and throttles in LRU caches bounded by
// `throttle.max_clients`. Throttles live apart from counters so a flood of new clients, which
// evicts old counters, cannot evict a throttle.
import { LRUCache } from 'lru-cache';
import { addHit, emptyCounter, type WindowCounter } from './sliding-window.js';
import type { Quota, Store, ThrottledPage, WindowLimit } from './store.js';

/** Clients whose captcha attempts are tracked at once, at most. */
const MAX_ATTEMPT_CLIENTS = 100_000;

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
  private readonly throttles: LRUCache<string, number>;

  constructor({ maxClients }: { maxClients: number }) {
    this.counters = new LRUCache({ max: maxClients });
    // lru-cache allocates its arrays for `max` up front; captcha attempts come from far fewer
    // clients than requests do, so their bound need not cost a million slots.
    this.attempts = new LRUCache({ max: Math.min(maxClients, MAX_ATTEMPT_CLIENTS) });
    this.throttles = new LRUCache({ max: maxClients });
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
    this.throttles.set(client, throttledUntil);
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
    this.throttles.set(client, untilMs);
  }

  async release(client: string) {
    this.throttles.delete(client);
    this.counters.delete(client);
  }

  async throttled(cursor: string, count: number, nowMs: number): Promise<ThrottledPage> {
    // The cursor is an offset into the LRU order: pages may shift as clients come and go, which
    // an operator's listing tolerates; memory stays bounded by max_clients.
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
