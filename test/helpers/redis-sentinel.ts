// A real Redis Sentinel setup for tests: one primary, replicas and sentinels, each a process of
// its own on free ports, with short failure detection so a failover takes seconds.
//
//   const setup = await startSentinelSetup({ replicas: 2, sentinels: 3, password, sentinelPassword });
//   setup.sentinels      // [{ host: '127.0.0.1', port }, …] for store.redis.sentinel.nodes
//   await setup.killPrimary();          // SIGKILL the current primary
//   await setup.awaitNewPrimary(old);   // until the sentinels name another one
//   await setup.close();
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  eventually,
  freePort,
  inspector,
  spawnReady,
  startRedisServer,
  stop,
  type RedisServer,
} from './redis-server.js';

export const MASTER_NAME = 'gw-primary';

export interface SentinelSetupOptions {
  readonly replicas?: number;
  readonly sentinels?: number;
  /** How long the primary may be silent before a sentinel thinks it down. */
  readonly downAfterMs?: number;
  /** requirepass (and masterauth) of the data nodes. */
  readonly password?: string;
  /** requirepass of the sentinels themselves. */
  readonly sentinelPassword?: string;
}

export interface SentinelSetup {
  readonly sentinels: readonly { host: string; port: number }[];
  /** Every data node, the first one the primary at the start. */
  readonly nodes: readonly RedisServer[];
  /** The port of the primary the sentinels name now. */
  primaryPort(): Promise<number>;
  /** SIGKILLs the current primary; resolves to its port. */
  killPrimary(): Promise<number>;
  /** Resolves with the new primary's port once the sentinels name one other than `oldPort`. */
  awaitNewPrimary(oldPort: number, withinMs?: number): Promise<number>;
  close(): Promise<void>;
}

export async function startSentinelSetup(
  options: SentinelSetupOptions = {},
): Promise<SentinelSetup> {
  const { replicas = 2, sentinels: sentinelCount = 3, downAfterMs = 1000 } = options;
  const { password, sentinelPassword } = options;
  const auth = (secret: string | undefined) =>
    secret === undefined ? '' : `:${encodeURIComponent(secret)}@`;
  /** An inspector's URL for a data node (`node`) or a sentinel. */
  const urlOf = (port: number, kind: 'node' | 'sentinel') =>
    `redis://${auth(kind === 'node' ? password : sentinelPassword)}127.0.0.1:${port}`;
  const nodeAuth = password === undefined ? [] : ['--masterauth', password];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cgw-sentinel-'));
  const nodes: RedisServer[] = [];
  const sentinelProcesses: ChildProcess[] = [];
  const sentinels: { host: string; port: number }[] = [];
  const close = async () => {
    await Promise.all(sentinelProcesses.map(stop));
    await Promise.all(nodes.map((node) => node.close()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Replicas sync at once (the default waits 5 s for more replicas to share one transfer).
    const primary = await startRedisServer({
      ...(password === undefined ? {} : { password }),
      // --dir: a replica's sync may write an RDB file; never into the working directory.
      args: ['--repl-diskless-sync-delay', '0', '--dir', dir, ...nodeAuth],
    });
    nodes.push(primary);
    for (let i = 0; i < replicas; i += 1) {
      nodes.push(
        await startRedisServer({
          ...(password === undefined ? {} : { password }),
          args: [
            '--replicaof',
            '127.0.0.1',
            String(primary.port),
            '--replica-announce-ip',
            '127.0.0.1',
            '--dir',
            dir,
            ...nodeAuth,
          ],
        }),
      );
    }
    // Replicas in sync first: a sentinel only promotes a replica it has seen linked.
    await eventually(
      async () => {
        const info = await infoOf(urlOf(primary.port, 'node'), 'replication');
        return (info.match(/state=online/g) ?? []).length === replicas;
      },
      { what: 'the replicas syncing' },
    );
    for (let i = 0; i < sentinelCount; i += 1) {
      const port = await freePort();
      const file = path.join(dir, `sentinel-${port}.conf`);
      // A sentinel rewrites its config file as it learns the topology: it must be writable.
      await writeFile(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          'sentinel announce-ip 127.0.0.1',
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} ${Math.floor(sentinelCount / 2) + 1}`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
          `sentinel failover-timeout ${MASTER_NAME} ${downAfterMs * 3}`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          ...(password === undefined ? [] : [`sentinel auth-pass ${MASTER_NAME} ${password}`]),
          // A sentinel with a password of its own; it uses the same one towards its peers.
          ...(sentinelPassword === undefined
            ? []
            : [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`]),
          '',
        ].join('\n'),
      );
      sentinelProcesses.push(await spawnReady([file, '--sentinel'], { ready: '+monitor master' }));
      sentinels.push({ host: '127.0.0.1', port });
    }
    // Every sentinel knows the replicas and the other sentinels before anything is killed.
    await eventually(
      async () => {
        for (const { port } of sentinels) {
          const client = await inspector(urlOf(port, 'sentinel'));
          try {
            const known = (await client.sendCommand(['SENTINEL', 'REPLICAS', MASTER_NAME])) as [];
            const peers = (await client.sendCommand(['SENTINEL', 'SENTINELS', MASTER_NAME])) as [];
            if (known.length < replicas || peers.length < sentinelCount - 1) return false;
          } finally {
            client.destroy();
          }
        }
        return true;
      },
      { what: 'the sentinels discovering each other', withinMs: 30_000 },
    );
  } catch (error) {
    await close();
    throw error;
  }

  const primaryPort = async () => {
    for (const { port } of sentinels) {
      try {
        const client = await inspector(urlOf(port, 'sentinel'));
        try {
          const reply = (await client.sendCommand([
            'SENTINEL',
            'GET-MASTER-ADDR-BY-NAME',
            MASTER_NAME,
          ])) as [string, string];
          return Number(reply[1]);
        } finally {
          client.destroy();
        }
      } catch {
        // this sentinel is away: ask the next one
      }
    }
    throw new Error('no sentinel answers');
  };

  return {
    sentinels,
    nodes,
    primaryPort,
    async killPrimary() {
      const port = await primaryPort();
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`the primary ${port} is none of the nodes`);
      await node.kill();
      return port;
    },
    awaitNewPrimary: (oldPort, withinMs = 30_000) =>
      eventually(
        async () => {
          const port = await primaryPort();
          if (port === oldPort) return 0;
          // Promoted, not just named: the new primary takes writes.
          const info = await infoOf(urlOf(port, 'node'), 'replication');
          return info.includes('role:master') ? port : 0;
        },
        { what: 'a new primary', withinMs },
      ),
    close,
  };
}

/** INFO `section` of the node at `url`. */
export async function infoOf(url: string, section: string): Promise<string> {
  const client = await inspector(url);
  try {
    return await client.info(section);
  } finally {
    client.destroy();
  }
}
