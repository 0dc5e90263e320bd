// The memory figure of idle keep-alive client connections: a fresh gateway's memory before and
// after a child holds thousands of connections open to it, each after one proxied GET.
import type { BenchConfigOptions } from './config.js';
import { progress } from './fixtures.js';
import type { BenchOptions } from './options.js';
import { onPath, openFileLimits, startServer, type Placement, type Server } from './processes.js';
import type { ConnectionFigures } from './report.js';
import type { MemoryReply } from './servers/child.js';

/**
 * Bytes per idle keep-alive client connection: a fresh gateway (with --expose-gc), its memory
 * after full GCs, then again once a child holds `idleConnections` connections open to it (each
 * after one proxied GET). Both children get the hard open-file limit as their soft one (prlimit);
 * fewer connections when even that does not allow so many: the report says so.
 */
export async function measureIdleConnections(
  options: BenchOptions,
  placement: Placement,
  config: BenchConfigOptions,
): Promise<ConnectionFigures | string> {
  const limits = openFileLimits();
  const raise = onPath('prlimit') !== undefined;
  const limit = raise ? limits.hard : limits.soft;
  const count = Math.min(options.idleConnections, limit - 256);
  if (count < 100) return `the open-file limit (ulimit -n ${limit}) leaves too few connections`;
  const openFiles = raise ? { openFiles: limits.hard } : {};
  progress(`memory: ${count.toLocaleString('en-US')} idle keep-alive connections ...`);
  const gateway = await startServer('gateway (idle connections)', 'servers/gateway.ts', {
    cpu: placement.proxy,
    nodeFlags: ['--expose-gc'],
    input: config,
    ...openFiles,
  });
  let holder: Server | undefined;
  try {
    // A first batch warms the paths (and fills the upstream pool) before the "before" figure.
    const warm = await startServer('idle clients (warm-up)', 'servers/idle-clients.ts', {
      cpu: placement.load,
      input: { port: gateway.port, count: 64, concurrency: 64, path: '/' },
    });
    await warm.stop();
    const before = (await gateway.ask('memory')) as MemoryReply | undefined;
    holder = await startServer('idle clients', 'servers/idle-clients.ts', {
      cpu: placement.load,
      input: { port: gateway.port, count, concurrency: 64, path: '/' },
      ...openFiles,
    });
    const after = (await gateway.ask('memory')) as MemoryReply | undefined;
    if (!before?.memory || !after?.memory) return 'the gateway did not report its memory';
    return {
      connections: count,
      wanted: options.idleConnections,
      openFileLimit: limit,
      raised: raise && limits.hard > limits.soft,
      collected: after.memory.collected,
      before: before.memory,
      after: after.memory,
    };
  } catch (error) {
    return (error as Error).message;
  } finally {
    await holder?.stop();
    await gateway.stop();
  }
}
