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
});
