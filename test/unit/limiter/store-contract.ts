// The one behaviour every Store must show; each store's test file runs it against a fresh store.
import { expect } from 'chai';
import type { Store, WindowLimit } from '../../../gateway/limiter/store.js';

export interface StoreFixture {
  /** A store with no state from earlier cases. */
  create(): Promise<Store>;
}

const T0 = 1_700_000_040_000; // aligned to a 60 s window, so bursts start a fresh bucket
const MINUTE = 60_000;
const BLOCK = 15 * MINUTE;
const byDefault: WindowLimit = { id: '', limit: 3, windowMs: MINUTE };
const login: WindowLimit = { id: 'login', limit: 2, windowMs: MINUTE };

export function storeContract(name: string, fixture: StoreFixture): void {
  describe(`${name} (Store contract)`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await fixture.create();
    });
    afterEach(async () => {
      await store.close();
    });

    it('lets requests 1..limit through and throttles at request limit+1', async () => {
      const answers: number[] = [];
      for (let i = 0; i < 4; i++) answers.push(await store.hit('a', [byDefault], BLOCK, T0 + i));
      expect(answers.slice(0, 3)).to.deep.equal([0, 0, 0]);
      expect(answers[3]).to.equal(T0 + 3 + BLOCK);
    });

    it('keeps a throttled client throttled until the block ends, without counting', async () => {
      for (let i = 0; i < 4; i++) await store.hit('a', [byDefault], BLOCK, T0);
      expect(await store.hit('a', [byDefault], BLOCK, T0 + 1000)).to.equal(T0 + BLOCK);
      expect(await store.throttledUntil('a', T0 + BLOCK - 1)).to.equal(T0 + BLOCK);
      expect(await store.throttledUntil('a', T0 + BLOCK)).to.equal(0);
      expect(await store.hit('a', [byDefault], BLOCK, T0 + BLOCK)).to.equal(0);
    });

    it('counts each client apart', async () => {
      for (let i = 0; i < 4; i++) await store.hit('a', [byDefault], BLOCK, T0);
      expect(await store.hit('b', [byDefault], BLOCK, T0)).to.equal(0);
      expect(await store.throttledUntil('b', T0)).to.equal(0);
    });

    it('throttles when any of several limits is exceeded', async () => {
      expect(await store.hit('a', [byDefault, login], BLOCK, T0)).to.equal(0);
      expect(await store.hit('a', [byDefault, login], BLOCK, T0)).to.equal(0);
      expect(await store.hit('a', [byDefault, login], BLOCK, T0)).to.equal(T0 + BLOCK);
    });

    it('counts a rule only on the requests that name it', async () => {
      await store.hit('a', [byDefault, login], BLOCK, T0);
      await store.hit('a', [byDefault], BLOCK, T0);
      expect(await store.hit('a', [byDefault, login], BLOCK, T0)).to.equal(0);
    });

    it('forgets requests that slid out of the window', async () => {
      for (let i = 0; i < 3; i++) await store.hit('a', [byDefault], BLOCK, T0);
      expect(await store.hit('a', [byDefault], BLOCK, T0 + 2 * MINUTE)).to.equal(0);
    });

    it('weighs the previous window by its overlap with the sliding one', async () => {
      for (let i = 0; i < 3; i++) await store.hit('a', [byDefault], BLOCK, T0);
      // Half-way through the next window, half of the 3 earlier hits (1.5) still count.
      const halfway = T0 + MINUTE + MINUTE / 2;
      expect(await store.hit('a', [byDefault], BLOCK, halfway)).to.equal(0); // 2.5
      expect(await store.hit('a', [byDefault], BLOCK, halfway)).to.equal(halfway + BLOCK); // 3.5
    });

    it('catches request limit+1 of a burst that straddles a bucket boundary', async () => {
      // 3 hits just before a bucket ends and the 4th just after: one burst, 2 ms long.
      const before = T0 + MINUTE - 1;
      for (let i = 0; i < 2; i++) await store.hit('s', [byDefault], BLOCK, before);
      expect(await store.hit('s', [byDefault], BLOCK, T0 + MINUTE)).to.equal(0);
      expect(await store.hit('s', [byDefault], BLOCK, T0 + MINUTE + 1)).to.equal(
        T0 + MINUTE + 1 + BLOCK,
      );
    });

    it('release lifts the throttle and resets the counters', async () => {
      for (let i = 0; i < 4; i++) await store.hit('a', [byDefault], BLOCK, T0);
      await store.release('a');
      expect(await store.throttledUntil('a', T0)).to.equal(0);
      for (let i = 0; i < 3; i++) expect(await store.hit('a', [byDefault], BLOCK, T0)).to.equal(0);
    });

    it('throttle() throttles a client until the given time', async () => {
      await store.throttle('a', T0 + 5000);
      expect(await store.throttledUntil('a', T0)).to.equal(T0 + 5000);
      expect(await store.hit('a', [byDefault], BLOCK, T0)).to.equal(T0 + 5000);
    });

    it('attempt() allows limit attempts per window and refuses the next', async () => {
      const attempts: WindowLimit = { id: 'captcha', limit: 2, windowMs: MINUTE };
      expect(await store.attempt('a', attempts, T0)).to.equal(true);
      expect(await store.attempt('a', attempts, T0)).to.equal(true);
      expect(await store.attempt('a', attempts, T0)).to.equal(false);
      expect(await store.attempt('b', attempts, T0)).to.equal(true);
      expect(await store.attempt('a', attempts, T0 + 2 * MINUTE)).to.equal(true);
    });

    it('release keeps the captcha attempts: passing a captcha buys no fresh attempts', async () => {
      const attempts: WindowLimit = { id: 'captcha', limit: 1, windowMs: MINUTE };
      expect(await store.attempt('a', attempts, T0)).to.equal(true);
      await store.release('a');
      expect(await store.attempt('a', attempts, T0)).to.equal(false);
    });

    it('counts every one of many concurrent hits exactly once', async () => {
      const limit: WindowLimit = { id: '', limit: 50, windowMs: MINUTE };
      const answers = await Promise.all(
        Array.from({ length: 200 }, () => store.hit('a', [limit], BLOCK, T0)),
      );
      expect(answers.filter((until) => until === 0)).to.have.length(50);
    });

    it('lists the throttled clients page by page, leaving out ended throttles', async () => {
      await store.throttle('a', T0 + 5000);
      await store.throttle('b', T0 + 6000);
      await store.throttle('ended', T0 - 1);
      for (let i = 0; i < 4; i++) await store.hit('c', [byDefault], BLOCK, T0);
      const seen = new Map<string, number>();
      let cursor = '';
      let pages = 0;
      do {
        const page = await store.throttled(cursor, 1, T0);
        for (const { client, untilMs } of page.clients) seen.set(client, untilMs);
        cursor = page.cursor;
        pages += 1;
      } while (cursor !== '' && pages < 100_000); // SCAN walks a shared database's other keys too
      expect(Object.fromEntries(seen)).to.deep.equal({ a: T0 + 5000, b: T0 + 6000, c: T0 + BLOCK });
      expect(await store.countThrottled(T0)).to.equal(3);
    });

    it('tells what is left in the tightest window when asked for a quota', async () => {
      const quota = { remaining: -1, index: -1 };
      await store.hit('q', [byDefault, login], BLOCK, T0, quota);
      expect(quota).to.deep.equal({ remaining: 1, index: 1 });
      await store.hit('q', [byDefault], BLOCK, T0, quota);
      expect(quota).to.deep.equal({ remaining: 1, index: 0 });
      await store.hit('q', [byDefault, login], BLOCK, T0, quota);
      expect(quota).to.deep.equal({ remaining: 0, index: 0 });
      expect(await store.hit('q', [byDefault], BLOCK, T0, quota)).to.equal(T0 + BLOCK);
      expect(quota.remaining).to.equal(0);
    });

    it('answers ping while it is up', async () => {
      await store.ping();
    });
  });
}
