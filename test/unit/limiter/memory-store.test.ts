import { expect } from 'chai';
import { MemoryStore } from '../../../gateway/limiter/memory-store.js';
import { storeContract } from './store-contract.js';

storeContract('MemoryStore', { create: async () => new MemoryStore({ maxClients: 1000 }) });

describe('MemoryStore bounds', () => {
  const limit = { id: '', limit: 1, windowMs: 60_000 };

  it('forgets the least recently seen clients beyond max_clients', async () => {
    const store = new MemoryStore({ maxClients: 100 });
    await store.hit('first', [limit], 60_000, 0);
    for (let i = 0; i < 100; i++) await store.hit(`spray-${i}`, [limit], 60_000, 0);
    // "first" was evicted, so its earlier hit no longer counts.
    expect(await store.hit('first', [limit], 60_000, 0)).to.equal(0);
  });

  it('keeps a throttle when a flood of new clients evicts the counters', async () => {
    const store = new MemoryStore({ maxClients: 100 });
    await store.hit('bot', [limit], 60_000, 0);
    expect(await store.hit('bot', [limit], 60_000, 0)).to.equal(60_000);
    for (let i = 0; i < 1000; i++) await store.hit(`spray-${i}`, [limit], 60_000, 0);
    expect(await store.throttledUntil('bot', 1)).to.equal(60_000);
  });

  it('keeps a throttle through a flood of new clients each throttled, at max_clients', async () => {
    const store = new MemoryStore({ maxClients: 1000 });
    await store.hit('victim', [limit], 60_000, 0);
    expect(await store.hit('victim', [limit], 60_000, 0)).to.equal(60_000);
    for (let i = 0; i < 1000; i++) {
      await store.hit(`flood-${i}`, [limit], 60_000, 1);
      expect(await store.hit(`flood-${i}`, [limit], 60_000, 1)).to.equal(60_001);
    }
    expect(await store.throttledUntil('victim', 2)).to.equal(60_000);
    expect(await store.hit('victim', [limit], 60_000, 59_999)).to.equal(60_000);
  });

  it('never evicts a live throttle at max_throttled, and holds a new offender by its counter', async () => {
    let fullEpisodes = 0;
    const store = new MemoryStore({
      maxClients: 1000,
      maxThrottled: 10,
      onThrottlesFull: () => (fullEpisodes += 1),
    });
    for (let i = 0; i < 10; i++) {
      await store.hit(`held-${i}`, [limit], 60_000, 0);
      await store.hit(`held-${i}`, [limit], 60_000, 0);
    }
    await store.hit('late', [limit], 60_000, 1);
    // Over its limit: intercepted, though the table has no room to record the throttle.
    expect(await store.hit('late', [limit], 60_000, 1)).to.equal(60_001);
    expect(await store.throttledUntil('late', 1)).to.equal(0);
    expect(await store.hit('late', [limit], 60_000, 2)).to.equal(60_002);
    expect(await store.countThrottled(2)).to.equal(10);
    for (let i = 0; i < 10; i++)
      expect(await store.throttledUntil(`held-${i}`, 2)).to.equal(60_000);
    expect(fullEpisodes).to.equal(1);
  });

  it('makes room for new throttles as old ones expire, wherever they sit', async () => {
    const store = new MemoryStore({ maxClients: 1000, maxThrottled: 2 });
    await store.throttle('long', 10 * 60_000);
    await store.throttle('short', 1000);
    await store.hit('next', [limit], 60_000, 2000);
    // 'short' expired behind a live 'long': found by the sweep, and its room taken.
    expect(await store.hit('next', [limit], 60_000, 2000)).to.equal(62_000);
    expect(await store.throttledUntil('next', 2001)).to.equal(62_000);
    expect(await store.throttledUntil('long', 2001)).to.equal(10 * 60_000);
  });
});
