// Opens node-redis for the configured topology (one endpoint, Sentinel or Cluster) and gives the
// store one shape for all three: the commands of the request path, routed to the primary that owns
// the key; the primaries one by one for SCAN; a pub/sub subscription; readiness.
import { createClient, createCluster, createSentinel } from 'redis';
import type { HostPort } from '../config/host-port.js';
import type { ClientKeys } from './redis-keys.js';
import { SCRIPTS } from './redis-scripts.js';

/** Where Redis is, as the config says it. */
export type RedisTarget =
  | { readonly mode: 'single'; readonly url: string }
  | {
      readonly mode: 'sentinel';
      readonly masterName: string;
      readonly sentinels: readonly HostPort[];
      /** The data nodes' ACL user and password ('' for none). */
      readonly username: string;
      readonly password: string;
      /** The sentinels' own ACL user and password ('' for none). */
      readonly sentinelUsername: string;
      readonly sentinelPassword: string;
      readonly tls: boolean;
    }
  | {
      readonly mode: 'cluster';
      readonly seeds: readonly HostPort[];
      readonly username: string;
      readonly password: string;
      readonly tls: boolean;
    };

export interface TopologyOptions {
  readonly target: RedisTarget;
  readonly connectTimeoutMs: number;
}

/** The reply of the `hit` script (redis-scripts.ts). */
export interface HitReply {
  readonly untilMs: number;
  readonly remaining: number;
  readonly index: number;
}

/** The commands the store sends on the request path; each names the keys of one client. */
export interface RedisCommands {
  hit(keys: ClientKeys, args: readonly string[]): Promise<HitReply>;
  attempt(keys: ClientKeys, args: readonly string[]): Promise<number>;
  release(keys: ClientKeys, args: readonly string[]): Promise<number>;
  get(key: string): Promise<string | null>;
  setPx(key: string, value: string, ttlMs: number): Promise<unknown>;
}

/** One primary, for walking its keys. */
export interface Primary {
  /** host:port, to keep the order of primaries stable between pages. */
  readonly address: string;
  scan(cursor: string, match: string, count: number): Promise<{ cursor: string; keys: string[] }>;
  /** The values of `keys` (null where a key is gone, or has moved to another primary). */
  values(keys: readonly string[]): Promise<(string | null)[]>;
}

export interface RedisTopology {
  readonly commands: RedisCommands;
  /** Connected to (every) primary and able to send commands. */
  readonly isReady: boolean;
  /** Resolves once connected; rejects when the first connection gives up (Sentinel, Cluster). */
  connect(): Promise<unknown>;
  /** Every primary, ordered by address. */
  primaries(): Promise<Primary[]>;
  /** Answers when every primary answers. */
  ping(): Promise<void>;
  /** Calls `listener` with each message on `channel`; resubscribes by itself after a reconnect. */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** Called with every connection error (node-redis would crash the process on an unheard one). */
  onError(listener: (error: Error) => void): void;
  /** Called each time the topology is ready again after connecting, a reconnect or a failover. */
  onReady(listener: () => void): void;
  destroy(): void;
}

/** Reconnect backoff: 50 ms doubling up to this, plus up to 100 ms jitter so replicas spread. */
export const MAX_BACKOFF_MS = 2_000;
/** Commands waiting for one connection at most; more fail at once, so a stall cannot grow memory. */
const MAX_QUEUED = 10_000;
/** Cluster: how long a node may be reconnecting before the slot map is asked for again. */
const CLUSTER_REFRESH_AFTER_MS = 1_000;
/** Sentinel: how often the sentinels are asked for the topology besides their failover messages. */
const SENTINEL_SCAN_MS = 5_000;

const backoff = (retries: number) =>
  Math.min(50 * 2 ** retries, MAX_BACKOFF_MS) + Math.floor(Math.random() * 100);

/** What every node connection shares: RESP2, no offline queue, a bounded queue, no own timeout. */
function nodeOptions(connectTimeoutMs: number) {
  return {
    // RESP2: every Redis the gateway may meet speaks it (HELLO 3 needs Redis 6).
    RESP: 2 as const,
    // While disconnected, commands fail at once instead of queueing without bound.
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_QUEUED,
    socket: {
      connectTimeout: connectTimeoutMs,
      // Never give up: the gateway keeps serving by on_error and Redis comes back eventually.
      reconnectStrategy: backoff,
    },
  };
}

/**
 * The command timeout is RedisConnection.run's own timer. node-redis's default one (5 s) is an
 * AbortSignal.timeout per command, whose timer and finalization registry cost more than the rest
 * of the command in the profile.
 */
const NO_COMMAND_TIMEOUT = { timeout: 0 };

const auth = (username: string, password: string) => ({
  ...(username === '' ? {} : { username }),
  ...(password === '' ? {} : { password }),
});

export function openTopology(options: TopologyOptions): RedisTopology {
  const { target } = options;
  switch (target.mode) {
    case 'single':
      return single(target.url, options.connectTimeoutMs);
    case 'sentinel':
      return sentinel(target, options.connectTimeoutMs);
    case 'cluster':
      return cluster(target, options.connectTimeoutMs);
  }
}

/** The gateway's commands, written the same way on a client, a sentinel and a cluster. */
function commandsOf(client: {
  hit: RedisCommands['hit'];
  attempt: RedisCommands['attempt'];
  release: RedisCommands['release'];
  get(key: string): Promise<string | null>;
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number } },
  ): Promise<unknown>;
}): RedisCommands {
  return {
    hit: (keys, args) => client.hit(keys, args),
    attempt: (keys, args) => client.attempt(keys, args),
    release: (keys, args) => client.release(keys, args),
    get: (key) => client.get(key),
    setPx: (key, value, ttlMs) =>
      client.set(key, value, { expiration: { type: 'PX', value: ttlMs } }),
  };
}

function single(url: string, connectTimeoutMs: number): RedisTopology {
  const client = createClient({
    url,
    ...nodeOptions(connectTimeoutMs),
    scripts: SCRIPTS,
    commandOptions: NO_COMMAND_TIMEOUT,
  });
  // The subscription has a connection of its own (a subscribed connection takes no commands).
  let subscriber: ReturnType<typeof client.duplicate> | undefined;
  const errorListeners: ((error: Error) => void)[] = [];
  const readyListeners: (() => void)[] = [];
  const primary: Primary = {
    address: url,
    scan: (cursor, match, count) => client.scan(cursor, { MATCH: match, COUNT: count }),
    values: (keys) => client.mGet([...keys]),
  };
  return {
    commands: commandsOf(client),
    get isReady() {
      return client.isReady;
    },
    connect: () => client.connect(),
    primaries: async () => [primary],
    ping: async () => {
      await client.ping();
    },
    async subscribe(channel, listener) {
      subscriber = client.duplicate();
      for (const onError of errorListeners) subscriber.on('error', onError);
      // Its reconnects are gaps in the subscription as much as the command connection's.
      for (const onReady of readyListeners) subscriber.on('ready', onReady);
      await subscriber.connect();
      await subscriber.subscribe(channel, listener);
    },
    onError: (listener) => {
      errorListeners.push(listener);
      client.on('error', listener);
    },
    onReady: (listener) => {
      readyListeners.push(listener);
      client.on('ready', listener);
    },
    destroy: () => {
      client.destroy();
      subscriber?.destroy();
    },
  };
}

function sentinel(
  target: Extract<RedisTarget, { mode: 'sentinel' }>,
  connectTimeoutMs: number,
): RedisTopology {
  const node = nodeOptions(connectTimeoutMs);
  const tls = target.tls ? { tls: true as const } : {};
  const client = createSentinel({
    name: target.masterName,
    sentinelRootNodes: target.sentinels.map(({ host, port }) => ({ host, port })),
    nodeClientOptions: {
      ...node,
      ...auth(target.username, target.password),
      socket: { ...node.socket, ...tls },
    },
    sentinelClientOptions: {
      ...auth(target.sentinelUsername, target.sentinelPassword),
      socket: { ...node.socket, ...tls },
    },
    RESP: 2,
    scripts: SCRIPTS,
    commandOptions: NO_COMMAND_TIMEOUT,
    // Every write goes to the primary; replicas are never read (a replica may lag behind).
    masterPoolSize: 1,
    replicaPoolSize: 0,
    scanInterval: SENTINEL_SCAN_MS,
  });
  const primary: Primary = {
    address: target.masterName,
    scan: (cursor, match, count) => client.scan(cursor, { MATCH: match, COUNT: count }),
    values: (keys) => client.mGet([...keys]),
  };
  return {
    commands: commandsOf(client),
    get isReady() {
      return client.isReady;
    },
    connect: () => client.connect(),
    primaries: async () => [primary],
    ping: async () => {
      await client.ping();
    },
    // Follows the primary through a failover by itself (node-redis' pub/sub proxy).
    subscribe: (channel, listener) => client.subscribe(channel, listener),
    onError: (listener) => {
      client.on('error', listener);
      client.on('client-error', (event: { error: Error }) => listener(event.error));
    },
    onReady: (listener) => client.on('ready', listener),
    destroy: () => void client.destroy().catch(() => {}),
  };
}

function cluster(
  target: Extract<RedisTarget, { mode: 'cluster' }>,
  connectTimeoutMs: number,
): RedisTopology {
  const node = nodeOptions(connectTimeoutMs);
  const tls = target.tls ? { tls: true as const } : {};
  const client = createCluster({
    rootNodes: target.seeds.map(({ host, port }) => ({ socket: { host, port, ...tls } })),
    defaults: {
      ...node,
      ...auth(target.username, target.password),
      socket: { ...node.socket, ...tls },
    },
    RESP: 2,
    scripts: SCRIPTS,
    commandOptions: NO_COMMAND_TIMEOUT,
    // Primaries only: a replica may lag behind, and every command of the store writes.
    useReplicas: false,
    // A primary that stays away is looked up again soon: its replica may have taken over.
    topologyRefreshOnReconnectionAttemptStrategy: CLUSTER_REFRESH_AFTER_MS,
  });
  type NodeClient = Awaited<ReturnType<typeof client.nodeClient>>;
  const primaryOf = (address: string, nodeClient: NodeClient): Primary => ({
    address,
    scan: (cursor, match, count) => nodeClient.scan(cursor, { MATCH: match, COUNT: count }),
    // One GET per key, pipelined: the keys of one node lie in many slots, and MGET wants one.
    values: (keys) => Promise.all(keys.map((key) => nodeClient.get(key).catch(() => null))),
  });
  const primaries = async () => {
    const masters = [...client.masters].sort((a, b) => a.address.localeCompare(b.address));
    return Promise.all(
      masters.map(async (master) => primaryOf(master.address, await client.nodeClient(master))),
    );
  };
  return {
    commands: commandsOf(client),
    get isReady() {
      return client.isReady;
    },
    connect: () => client.connect(),
    primaries,
    ping: async () => {
      const masters = [...client.masters];
      if (masters.length === 0) throw new Error('the Redis cluster has no primaries (yet)');
      await Promise.all(masters.map(async (master) => (await client.nodeClient(master)).ping()));
    },
    // PUBLISH reaches every node of a cluster, so one subscription anywhere hears every lift.
    subscribe: (channel, listener) => client.subscribe(channel, listener),
    onError: (listener) => {
      client.on('error', listener);
      client.on('node-error', listener);
    },
    // Any node (the pub/sub one included) connected again after a drop.
    onReady: (listener) => client.on('node-ready', listener),
    destroy: () => client.destroy(),
  };
}
