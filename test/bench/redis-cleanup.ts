// Deletes the keys one bench run wrote to Redis (its floods throttle 10,000 clients for hours), so a
// shared Redis is left as the bench found it: SCAN + UNLINK under the run's own prefix.
import { createClient } from 'redis';

export const BENCH_RUN_PREFIX = `cgw-bench:${process.pid}:${Date.now()}:`;

/** Never throws: a Redis that is gone has nothing left to clean. */
export async function deleteBenchKeys(url: string, prefix = BENCH_RUN_PREFIX): Promise<number> {
  const client = createClient({ url, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => {});
  let deleted = 0;
  try {
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await client.unlink(keys);
    }
  } catch {
    // Nothing to do: the report already says whether Redis answered.
  } finally {
    if (client.isOpen) await client.close().catch(() => undefined);
  }
  return deleted;
}
