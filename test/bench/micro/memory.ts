// Target 4, in a child of its own run with --expose-gc: heap per tracked client in the real
// MemoryStore at max_clients, and whether RSS stays flat once the bound is reached (twice, then
// three times as many distinct clients as the bound). Prints one JSON line.
import { distModule } from '../servers/child.js';
import { clientKey } from './keys.js';

type MemoryStoreModule = typeof import('../../../gateway/limiter/memory-store.js');

export interface MemoryFigures {
  readonly maxClients: number;
  /** heapUsed growth from before the store existed to `maxClients` clients tracked, per client. */
  readonly heapBytesPerClient: number;
  /** The same for heap plus external memory (typed-array backing stores of the LRU lists). */
  readonly heapAndExternalBytesPerClient: number;
  /** heapUsed growth from constructing the empty store alone (what lru-cache preallocates). */
  readonly emptyStoreHeapBytes: number;
  readonly heapAtBoundBytes: number;
  readonly heapAtTwiceBoundBytes: number;
  readonly heapAtThriceBoundBytes: number;
  readonly rssAtBoundBytes: number;
  readonly rssAtTwiceBoundBytes: number;
  readonly rssAtThriceBoundBytes: number;
  readonly insertSeconds: number;
}

const { maxClients } = JSON.parse(process.argv[2] ?? '{}') as { maxClients: number };
const gc = globalThis.gc;
if (!gc) throw new Error('run with --expose-gc');

function settled(): NodeJS.MemoryUsage {
  // Several passes: one full GC can leave work (weak callbacks, finalisation) for the next.
  for (let i = 0; i < 4; i += 1) gc!();
  return process.memoryUsage();
}

const { MemoryStore } = (await import(
  distModule('gateway/limiter/memory-store.js')
)) as MemoryStoreModule;
const limits = [{ id: '', limit: 1_000_000_000, windowMs: 60_000 }];
const blockMs = 15 * 60_000;
const nowMs = Date.now();

const before = settled();
const store = new MemoryStore({ maxClients });
const empty = settled();
const started = performance.now();
for (let n = 0; n < maxClients; n += 1) await store.hit(clientKey(n), limits, blockMs, nowMs);
const insertSeconds = (performance.now() - started) / 1000;
const atBound = settled();
for (let n = maxClients; n < 2 * maxClients; n += 1) {
  await store.hit(clientKey(n), limits, blockMs, nowMs);
}
const atTwice = settled();
// A third bound's worth tells a one-off step (a hash table growing once evictions start) from
// growth that goes on.
for (let n = 2 * maxClients; n < 3 * maxClients; n += 1) {
  await store.hit(clientKey(n), limits, blockMs, nowMs);
}
const atThrice = settled();
// Still alive here, so nothing above was collected early.
await store.hit(clientKey(0), limits, blockMs, nowMs);

const figures: MemoryFigures = {
  maxClients,
  heapBytesPerClient: (atBound.heapUsed - before.heapUsed) / maxClients,
  heapAndExternalBytesPerClient:
    (atBound.heapUsed + atBound.external - before.heapUsed - before.external) / maxClients,
  emptyStoreHeapBytes: empty.heapUsed - before.heapUsed,
  heapAtBoundBytes: atBound.heapUsed,
  heapAtTwiceBoundBytes: atTwice.heapUsed,
  heapAtThriceBoundBytes: atThrice.heapUsed,
  rssAtBoundBytes: atBound.rss,
  rssAtTwiceBoundBytes: atTwice.rss,
  rssAtThriceBoundBytes: atThrice.rss,
  insertSeconds,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
