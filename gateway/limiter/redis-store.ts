// The Store on Redis, shared by every replica (CONTRACT §10): each read-modify-write is one Lua
// script or one single-key command, so one atomic step and one round trip per request.
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
  throttleKeyPattern,
  windowField,
  type ClientKeys,
} from './redis-keys.js';

export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Starts every key, so several gateways (or other apps) can share one Redis database. */
  readonly prefix: string;
}

/** countThrottled scans at most this many keys a call, and answers from memory in between. */
const COUNT_SCAN_KEYS = 100_000;
const COUNT_CACHE_MS = 30_000;

/** throttle() gets no `now`: its key outlives the block by the wall clock plus this margin. */
const THROTTLE_KEY_MARGIN_MS = 60_000;

export class RedisStore implements Store {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  #counted = { atMs: -Infinity, count: 0 };

  constructor(options: RedisStoreOptions) {
    this.#connection = new RedisConnection(options);
    this.#prefix = options.prefix;
  }

  async hit(
    client: string,
    limits: readonly WindowLimit[],
    blockMs: number,
    nowMs: number,
    quota?: Quota,
  ) {
    const args = [String(Math.floor(nowMs)), String(blockMs)];
    for (const limit of limits) {
      args.push(windowField(limit.id), String(limit.limit), String(limit.windowMs));
    }
    const keys = this.#keys(client);
    const reply = await this.#connection.run((redis) => redis.hit(keys, args));
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
    const until = Number(await this.#connection.run((redis) => redis.get(throttle)));
    return until > nowMs ? until : 0;
  }

  async throttle(client: string, untilMs: number) {
    const { throttle } = this.#keys(client);
    const ttlMs = Math.max(0, Math.ceil(untilMs - Date.now())) + THROTTLE_KEY_MARGIN_MS;
    await this.#connection.run((redis) =>
      redis.set(throttle, String(untilMs), { expiration: { type: 'PX', value: ttlMs } }),
    );
  }

  async release(client: string) {
    const { throttle, windows } = this.#keys(client);
    // One DEL of both keys is atomic; the attempt counter stays, so passing a captcha does not
    // buy a fresh allowance of captcha attempts.
    await this.#connection.run((redis) => redis.del([throttle, windows]));
  }

  async throttled(cursor: string, count: number, nowMs: number): Promise<ThrottledPage> {
    // SCAN, never KEYS: bounded work per page however many keys the database holds.
    const page = await this.#connection.run((redis) =>
      redis.scan(cursor === '' ? '0' : cursor, {
        MATCH: throttleKeyPattern(this.#prefix),
        COUNT: count,
      }),
    );
    const values =
      page.keys.length === 0 ? [] : await this.#connection.run((redis) => redis.mGet(page.keys));
    const clients: { client: string; untilMs: number }[] = [];
    page.keys.forEach((key, i) => {
      const client = clientOfThrottleKey(this.#prefix, key);
      const untilMs = Number(values[i]);
      if (client !== undefined && untilMs > nowMs) clients.push({ client, untilMs });
    });
    return { clients, cursor: page.cursor === '0' ? '' : page.cursor };
  }

  /**
   * An estimate for the gauge: a bounded SCAN at most every 30 s, so a scrape never walks a huge
   * keyspace; past COUNT_SCAN_KEYS keys it answers what it counted so far.
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
    await this.#connection.run((redis) => redis.ping());
  }

  close() {
    return this.#connection.close();
  }

  #keys(client: string): ClientKeys {
    return clientKeys(this.#prefix, client);
  }
}
