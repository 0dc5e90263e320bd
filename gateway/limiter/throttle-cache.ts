// The throttles one replica has seen, kept in its memory until they end, so a client that floods
// a throttled gateway costs Redis nothing: its requests are answered from here. A lift (captcha
// passed, admin release) on any replica arrives by pub/sub and forgets the entry at once.
import { LRUCache } from 'lru-cache';

export interface ThrottleCacheOptions {
  /** Throttled clients remembered at most; the least recently seen are forgotten first. */
  readonly maxClients: number;
  /**
   * How long a remembered throttle is trusted without asking Redis: the bound on a lift whose
   * message was lost (pub/sub delivers at most once; a dropped subscription also clears all).
   */
  readonly recheckMs: number;
}

interface Entry {
  untilMs: number;
  /** When Redis last confirmed the throttle (the caller's clock). */
  checkedAtMs: number;
}

export class ThrottleCache {
  readonly #entries: LRUCache<string, Entry>;
  readonly #recheckMs: number;
  /** Bumped by every lift and every gap, so an answer Redis gave before it is not remembered. */
  #generation = 0;

  constructor({ maxClients, recheckMs }: ThrottleCacheOptions) {
    this.#entries = new LRUCache({ max: maxClients });
    this.#recheckMs = recheckMs;
  }

  /** Pass it to remember(): taken before asking Redis. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Epoch ms until which `client` is throttled as far as this replica knows, 0 when it must ask
   * Redis. Once per recheck period one caller is sent to Redis while the others keep the answer.
   */
  lookup(client: string, nowMs: number): number {
    const entry = this.#entries.get(client);
    if (entry === undefined) return 0;
    if (entry.untilMs <= nowMs) {
      this.#entries.delete(client);
      return 0;
    }
    if (nowMs - entry.checkedAtMs < this.#recheckMs) return entry.untilMs;
    entry.checkedAtMs = nowMs; // this caller rechecks; the others wait a period more
    return 0;
  }

  /**
   * Keeps what Redis answered for `client` at `nowMs` (0: not throttled), unless a lift or a gap
   * came after `generation` was taken: then the answer may already be stale.
   */
  remember(client: string, untilMs: number, nowMs: number, generation: number): void {
    if (generation !== this.#generation) return;
    if (untilMs > nowMs) this.#entries.set(client, { untilMs, checkedAtMs: nowMs });
    else this.#entries.delete(client);
  }

  /** The throttle of `client` was lifted (here or on another replica). */
  forget(client: string): void {
    this.#generation += 1;
    this.#entries.delete(client);
  }

  /** Lifts may have been missed: trust nothing remembered so far. */
  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
