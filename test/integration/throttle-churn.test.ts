// A throttle lasts its block whatever the churn of clients: a flood of new clients, each throttled
// in turn, neither frees a throttled client nor grows the heap past the store's bounds.
import { expect } from 'chai';
import http from 'node:http';
import { getHeapStatistics } from 'node:v8';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

describe('throttles under a flood of new clients', () => {
  let upstream: Upstream;
  let gw: RunningGateway;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway(`
upstream: { url: "${upstream.url}" }
throttle: { limit: 1, window: 60s, block: 15m, max_clients: 1000, rules: [] }
`);
  });
  after(async () => {
    agent.destroy();
    await gw.stop();
    await upstream.close();
  });

  function get(client: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.get(
        {
          agent,
          host: '127.0.0.1',
          port: gw.port,
          path: '/api/',
          headers: { 'x-forwarded-for': client },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
    });
  }

  /** Throttles `count` fresh clients, 16 at a time; resolves with how many ended throttled. */
  async function flood(from: number, count: number): Promise<number> {
    let throttled = 0;
    for (let at = from; at < from + count; at += 16) {
      await Promise.all(
        Array.from({ length: Math.min(16, from + count - at) }, async (_, i) => {
          const client = `10.${(at + i) >> 16}.${((at + i) >> 8) & 255}.${(at + i) & 255}`;
          await get(client);
          if ((await get(client)) === 429) throttled += 1;
        }),
      );
    }
    return throttled;
  }

  it('a throttle outlives a flood of new clients at max_clients', async function () {
    this.timeout(120_000);
    const victim = '203.0.113.60';
    expect(await get(victim)).to.equal(200);
    expect(await get(victim)).to.equal(429);
    // Warm-up round, so the heap figure below measures the flood, not first-time allocations.
    expect(await flood(0, 1000)).to.equal(1000);
    const heapBefore = getHeapStatistics().used_heap_size;
    expect(await flood(1000, 2000)).to.equal(2000);
    const heapAfter = getHeapStatistics().used_heap_size;

    expect(await get(victim)).to.equal(429);
    expect(await gw.gateway.store.throttledUntil(victim, Date.now())).to.be.greaterThan(Date.now());
    // 2,000 more throttles cost about 100 B each in the store; the bound is loose for garbage the
    // test itself leaves (no forced GC here), and tight enough to catch a leak per request.
    expect(heapAfter - heapBefore).to.be.lessThan(32 * 1024 * 1024);
  });
});
