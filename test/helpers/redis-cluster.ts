// A real Redis Cluster for tests: primaries and one replica each, every node a redis-server of its
// own on free ports, formed with `redis-cli --cluster create`, with a short node timeout so a
// replica takes over a killed primary within seconds.
//
//   const cluster = await startRedisCluster({ primaries: 3, password });
//   cluster.seeds                 // [{ host: '127.0.0.1', port }, …] for store.redis.cluster.nodes
//   await cluster.killPrimaryOf('some-key');   // and cluster.awaitHealthy()
//   await cluster.close();
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCluster } from 'redis';
import {
  eventually,
  freePort,
  inspector,
  startRedisServer,
  type RedisServer,
} from './redis-server.js';

export interface RedisClusterSetup {
  readonly seeds: readonly { host: string; port: number }[];
  readonly nodes: readonly RedisServer[];
  /** The ports of the nodes that are primaries now. */
  primaryPorts(): Promise<number[]>;
  /** SIGKILLs the primary that holds `key`'s slot; resolves to its port. */
  killPrimaryOf(key: string): Promise<number>;
  /** Until every slot is served again (cluster_state:ok on every live node). */
  awaitHealthy(withinMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A free port whose cluster bus port (port + 10000) is a valid port too. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 <= 65_535) return port;
  }
}

export interface RedisClusterOptions {
  readonly primaries?: number;
  /** requirepass (and masterauth) of every node. */
  readonly password?: string;
}

export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterSetup> {
  const { primaries = 3, password } = options;
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  const urlOf = (port: number) => `redis://${auth}127.0.0.1:${port}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cgw-cluster-'));
  const nodes: RedisServer[] = [];
  const dead = new Set<number>();
  const close = async () => {
    await Promise.all(nodes.map((node) => node.close()));
    await rm(dir, { recursive: true, force: true });
  };
  const nodeArgs = (port: number) => [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    path.join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout',
    '1000',
    // Replicas sync at once (the default waits 5 s for more replicas to share one transfer).
    '--repl-diskless-sync-delay',
    '0',
    '--dir',
    dir,
    ...(password === undefined ? [] : ['--masterauth', password]),
  ];
  try {
    for (let i = 0; i < primaries * 2; i += 1) {
      for (let attempt = 1; ; attempt += 1) {
        const port = await clusterPort();
        try {
          nodes.push(
            await startRedisServer({
              port,
              args: nodeArgs(port),
              ...(password === undefined ? {} : { password }),
            }),
          );
          break;
        } catch (error) {
          if (attempt === 3) throw error;
        }
      }
    }
    const create = spawn(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
        ...(password === undefined ? [] : ['-a', password, '--no-auth-warning']),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    create.stdout.on('data', (chunk: Buffer) => (output += String(chunk)));
    create.stderr.on('data', (chunk: Buffer) => (output += String(chunk)));
    const [code] = (await once(create, 'exit')) as [number];
    if (code !== 0) throw new Error(`redis-cli --cluster create failed:\n${output}`);
  } catch (error) {
    await close();
    throw error;
  }

  const live = () => nodes.filter((node) => !dead.has(node.port));
  const awaitHealthy = async (withinMs = 30_000) => {
    await eventually(
      async () => {
        for (const node of live()) {
          const client = await inspector(urlOf(node.port));
          try {
            const info = await client.clusterInfo();
            if (!info.includes('cluster_state:ok')) return false;
            // Every live node agrees there are `primaries` primaries serving slots.
            const served = (await client.clusterNodes())
              .split('\n')
              .filter((line) => /\bmaster\b/.test(line) && !/\bfail\??\b/.test(line))
              .filter((line) => line.split(' ').length > 8)
              .filter((line) => !dead.has(Number(/:(\d+)@/.exec(line)?.[1])));
            if (served.length !== primaries) return false;
          } finally {
            client.destroy();
          }
        }
        return true;
      },
      { what: 'the cluster healthy', withinMs },
    );
  };
  try {
    await awaitHealthy();
    // A replica takes over only when it has been in sync: wait for every link to be up.
    await eventually(
      async () => {
        for (const node of nodes) {
          const client = await inspector(urlOf(node.port));
          try {
            const info = await client.info('replication');
            if (info.includes('role:slave') && !info.includes('master_link_status:up'))
              return false;
          } finally {
            client.destroy();
          }
        }
        return true;
      },
      { what: 'the replicas in sync' },
    );
  } catch (error) {
    await close();
    throw error;
  }

  const primaryPorts = async () => {
    const node = live()[0]!;
    const client = await inspector(urlOf(node.port));
    try {
      return (await client.clusterNodes())
        .split('\n')
        .filter((line) => /\bmaster\b/.test(line) && !/\bfail\b/.test(line))
        .map((line) => Number(/:(\d+)@/.exec(line)?.[1]));
    } finally {
      client.destroy();
    }
  };

  return {
    seeds: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    nodes,
    primaryPorts,
    async killPrimaryOf(key) {
      const cluster = createCluster({
        rootNodes: [{ url: urlOf(live()[0]!.port) }],
        ...(password === undefined ? {} : { defaults: { password } }),
        RESP: 2,
      });
      cluster.on('error', () => {});
      await cluster.connect();
      let port: number;
      try {
        const slot = await cluster.clusterKeySlot(key);
        port = cluster.slots[slot]?.master.port ?? 0;
      } finally {
        cluster.destroy();
      }
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`the primary of ${key} (${port}) is none of the nodes`);
      dead.add(port);
      await node.kill();
      return port;
    },
    awaitHealthy,
    close,
  };
}
