// The Store on Redis, shared by every replica: each read-modify-write is one Lua script or one
// single-key command, so one atomic step and one round trip per request. A client this replica
// knows to be throttled is answered from its memory (throttle-cache.ts), with no round trip.
//
// Times are the caller's `nowMs`, as for the memory store, not Redis' clock: tests control time,
// and replicas agree to within their clock skew (NTP keeps that to milliseconds, far below any
// window). Key expiry is only garbage collection; whether a client is throttled is always the
// stored epoch ms compared with the caller's now.
import type { Quota, Store, ThrottledPage, WindowLimit } from './store.js';
import { RedisConnection, type RedisConnectionOptions } from './redis-connection.js';
import {
  clientKeys,
  clientOfThrottleKey,
  liftsChannel,
  throttleKeyPattern,
  windowField,
  type ClientKeys,
} from './redis-keys.js';
import { ThrottleCache, type ThrottleCacheOptions } from './throttle-cache.js';

export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Starts every key, so several gateways (or other apps) can share one Redis database. */
  readonly prefix: string;
  /** The throttles kept in this replica's memory; maxClients 0 keeps none (every hit asks Redis). */
  readonly throttleCache: ThrottleCacheOptions;
}

/** countThrottled scans at most this many keys a call, and answers from memory in between. */
const COUNT_SCAN_KEYS = 100_000;
const COUNT_CACHE_MS = 30_000;

/** throttle() gets no `now`: its key outlives the block by the wall clock plus this margin. */
const THROTTLE_KEY_MARGIN_MS = 60_000;

export class RedisStore implements Store {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #cache: ThrottleCache | undefined;
  #counted = { atMs: -Infinity, count: 0 };

  constructor(options: RedisStoreOptions) {
    this.#connection = new RedisConnection(options);
    this.#prefix = options.prefix;
    this.#channel = liftsChannel(options.prefix);
    if (options.throttleCache.maxClients > 0) {
      const cache = new ThrottleCache(options.throttleCache);
      this.#cache = cache;
      this.#connection.subscribe({
        channel: this.#channel,
        listener: (client) => cache.forget(client),
        onGap: () => cache.clear(),
      });
    }
  }

  async hit(
    client: string,
    limits: readonly WindowLimit[],
    blockMs: number,
    nowMs: number,
    quota?: Quota,
  ) {
    const cache = this.#cache;
    const known = cache?.lookup(client, nowMs) ?? 0;
    if (known !== 0) {
      if (quota) {
        quota.remaining = 0;
        quota.index = 0;
      }
      return known;
    }
    const generation = cache?.generation ?? 0;
    const args = [String(Math.floor(nowMs)), String(blockMs)];
    for (const limit of limits) {
      args.push(windowField(limit.id), String(limit.limit), String(limit.windowMs));
    }
    const keys = this.#keys(client);
    const reply = await this.#connection.run((redis) => redis.hit(keys, args));
    cache?.remember(client, reply.untilMs, nowMs, generation);
    if (quota) {
      quota.remaining = reply.remaining;
      quota.index = reply.index;
    }
    return reply.untilMs;
  }

  async attempt(client: string, limit: WindowLimit, nowMs: number) {
    const args = [String(Math.floor(nowMs)), String(limit.limit), String(limit.windowMs)];
    const keys = this.#keys(client);
    return (await this.#connection.run((redis) => redis.attempt(keys, args))) === 1;
  }

  async throttledUntil(client: string, nowMs: number) {
    const { throttle } = this.#keys(client);
    const generation = this.#cache?.generation ?? 0;
    const until = Number(await this.#connection.run((redis) => redis.get(throttle)));
    const untilMs = until > nowMs ? until : 0;
    this.#cache?.remember(client, untilMs, nowMs, generation);
    return untilMs;
  }

  async throttle(client: string, untilMs: number) {
    const { throttle } = this.#keys(client);
    const ttlMs = Math.max(0, Math.ceil(untilMs - Date.now())) + THROTTLE_KEY_MARGIN_MS;
    await this.#connection.run((redis) => redis.setPx(throttle, String(untilMs), ttlMs));
  }

  async release(client: string) {
    // Forgotten here at once; the other replicas hear it on the channel (and so does this one).
    this.#cache?.forget(client);
    const keys = this.#keys(client);
    await this.#connection.run((redis) => redis.release(keys, [this.#channel, client]));
  }

  async throttled(cursor: string, count: number, nowMs: number): Promise<ThrottledPage> {
    // The cursor is "<primary>.<SCAN cursor>", or the SCAN cursor alone on the first primary
    // (the only one outside a cluster). Primaries are walked in the order of their addresses.
    const [first = '0', second] = cursor === '' ? ['0'] : cursor.split('.');
    let index = second === undefined ? 0 : Number(first);
    const scanCursor = second ?? first;
    const primaries = await this.#connection.primaries();
    const primary = primaries[index];
    if (primary === undefined) return { clients: [], cursor: '' };
    // SCAN, never KEYS: bounded work per page however many keys the database holds.
    const page = await this.#connection.onPrimary(primary, (node) =>
      node.scan(scanCursor, throttleKeyPattern(this.#prefix), count),
    );
    const values =
      page.keys.length === 0
        ? []
        : await this.#connection.onPrimary(primary, (node) => node.values(page.keys));
    const clients: { client: string; untilMs: number }[] = [];
    page.keys.forEach((key, i) => {
      const client = clientOfThrottleKey(this.#prefix, key);
      const untilMs = Number(values[i]);
      if (client !== undefined && untilMs > nowMs) clients.push({ client, untilMs });
    });
    let next = page.cursor;
    if (next === '0') {
      index += 1;
      next = index < primaries.length ? '0' : '';
    }
    return { clients, cursor: next === '' ? '' : index === 0 ? next : `${index}.${next}` };
  }

  /**
   * An estimate for the gauge: a bounded SCAN (of every primary) at most every 30 s, so a scrape
   * never walks a huge keyspace; past COUNT_SCAN_KEYS keys it answers what it counted so far.
   */
  async countThrottled(nowMs: number) {
    if (nowMs - this.#counted.atMs < COUNT_CACHE_MS) return this.#counted.count;
    let cursor = '';
    let count = 0;
    let scanned = 0;
    do {
      const page = await this.throttled(cursor, 1000, nowMs);
      count += page.clients.length;
      scanned += 1000;
      cursor = page.cursor;
    } while (cursor !== '' && scanned < COUNT_SCAN_KEYS);
    this.#counted = { atMs: nowMs, count };
    return count;
  }

  async ping() {
    await this.#connection.ping();
  }

  close() {
    return this.#connection.close();
  }

  #keys(client: string): ClientKeys {
    return clientKeys(this.#prefix, client);
  }
}
