// The Redis store against the shared Redis (REDIS_URL): the Store contract, the same counts as the
// memory store, and the keys it leaves behind.
import { expect } from 'chai';
import fc from 'fast-check';
import { MemoryStore } from '../../../gateway/limiter/memory-store.js';
import { clientKeys } from '../../../gateway/limiter/redis-keys.js';
import { RedisStore } from '../../../gateway/limiter/redis-store.js';
import type { WindowLimit } from '../../../gateway/limiter/store.js';
import {
  deleteKeys,
  inspector,
  needRedis,
  randomPrefix,
  REDIS_URL,
} from '../../helpers/redis-server.js';
import { storeContract } from './store-contract.js';

const T0 = 1_700_000_040_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BLOCK = 15 * MINUTE;
const byDefault: WindowLimit = { id: '', limit: 3, windowMs: MINUTE };

function redisStore(prefix: string, maxClients = 1000): RedisStore {
  return new RedisStore({
    target: { mode: 'single', url: REDIS_URL },
    prefix,
    connectTimeoutMs: 1000,
    commandTimeoutMs: 1000,
    throttleCache: { maxClients, recheckMs: 5000 },
  });
}

describe('RedisStore', function () {
  const prefixes: string[] = [];
  const fresh = () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    return redisStore(prefix);
  };

  before(async function () {
    await needRedis(this);
  });
  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) await deleteKeys(prefix);
  });

  storeContract('RedisStore', { create: async () => fresh() });

  describe('keys', () => {
    let prefix: string;
    let store: RedisStore;
    let redis: Awaited<ReturnType<typeof inspector>>;
    beforeEach(async () => {
      prefix = randomPrefix();
      prefixes.push(prefix);
      store = redisStore(prefix);
      redis = await inspector();
    });
    afterEach(async () => {
      await store.close();
      redis.destroy();
    });

    it('writes only prefixed keys of the client, each with an expiry', async () => {
      for (let i = 0; i < 4; i++) await store.hit('198.51.100.7', [byDefault], BLOCK, T0);
      await store.attempt('198.51.100.7', { id: 'captcha', limit: 10, windowMs: MINUTE }, T0);
      const keys = clientKeys(prefix, '198.51.100.7');
      const written = [];
      for await (const found of redis.scanIterator({ MATCH: `${prefix}*` })) written.push(...found);
      expect(written.sort()).to.deep.equal([keys.attempts, keys.throttle, keys.windows].sort());
      expect(keys.throttle).to.equal(`${prefix}{198.51.100.7}:throttle`);
      expect(await redis.hGetAll(keys.windows)).to.deep.equal({ 'w:': `${T0}:4:0` });
      expect(await redis.get(keys.throttle)).to.equal(String(T0 + BLOCK));
      expect(await redis.pTTL(keys.throttle)).to.be.within(BLOCK - 5000, BLOCK);
      expect(await redis.pTTL(keys.windows)).to.be.within(2 * MINUTE - 5000, 2 * MINUTE);
      expect(await redis.pTTL(keys.attempts)).to.be.within(2 * MINUTE - 5000, 2 * MINUTE);
    });

    it('keeps the counters as long as the longest window needs them', async () => {
      const hourly: WindowLimit = { id: 'hourly', limit: 100, windowMs: HOUR };
      await store.hit('c', [byDefault, hourly], BLOCK, T0);
      await store.hit('c', [byDefault], BLOCK, T0 + 1);
      expect(await redis.pTTL(clientKeys(prefix, 'c').windows)).to.be.above(2 * HOUR - 5000);
    });

    it('release deletes the throttle and the counters but keeps the captcha attempts', async () => {
      for (let i = 0; i < 4; i++) await store.hit('c', [byDefault], BLOCK, T0);
      await store.attempt('c', { id: 'captcha', limit: 10, windowMs: MINUTE }, T0);
      await store.release('c');
      const keys = clientKeys(prefix, 'c');
      expect(await redis.exists([keys.throttle, keys.windows])).to.equal(0);
      expect(await redis.exists(keys.attempts)).to.equal(1);
    });

    it('lets a throttle set by throttle() expire by itself after the block', async () => {
      const until = Date.now() + 5000;
      await store.throttle('c', until);
      const ttl = await redis.pTTL(clientKeys(prefix, 'c').throttle);
      expect(ttl)
        .to.be.above(5000)
        .and.at.most(5000 + 61_000);
    });

    it('counts into a bucket opened by a replica whose clock runs ahead instead of resetting it', async () => {
      const ahead = T0 + MINUTE + 100; // a new bucket on the fast clock
      const behind = T0 + MINUTE - 100; // still the old bucket on the slow one
      expect(await store.hit('c', [byDefault], BLOCK, ahead)).to.equal(0);
      expect(await store.hit('c', [byDefault], BLOCK, behind)).to.equal(0);
      expect(await store.hit('c', [byDefault], BLOCK, ahead)).to.equal(0);
      expect(await store.hit('c', [byDefault], BLOCK, behind)).to.equal(behind + BLOCK);
    });
  });

  describe('window math', () => {
    it('gives the same answers as the memory store for any sequence of hits', async () => {
      const login: WindowLimit = { id: 'login', limit: 2, windowMs: 30_000 };
      const step = fc.record({
        advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 * MINUTE })),
        client: fc.constantFrom('a', 'b'),
        withLogin: fc.boolean(),
        kind: fc.constantFrom('hit', 'hit', 'hit', 'attempt', 'release'),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
          const memory = new MemoryStore({ maxClients: 100 });
          const redis = fresh();
          try {
            let now = T0;
            for (const { advanceMs, client, withLogin, kind } of steps) {
              now += advanceMs;
              const limits = withLogin ? [byDefault, login] : [byDefault];
              const attempts: WindowLimit = { id: 'captcha', limit: 2, windowMs: MINUTE };
              if (kind === 'hit') {
                const expected = await memory.hit(client, limits, BLOCK, now);
                expect(await redis.hit(client, limits, BLOCK, now)).to.equal(expected);
              } else if (kind === 'attempt') {
                const expected = await memory.attempt(client, attempts, now);
                expect(await redis.attempt(client, attempts, now)).to.equal(expected);
              } else {
                await memory.release(client);
                await redis.release(client);
              }
              expect(await redis.throttledUntil(client, now)).to.equal(
                await memory.throttledUntil(client, now),
              );
            }
          } finally {
            await redis.close();
          }
        }),
        { numRuns: 60 },
      );
    });
  });
});
