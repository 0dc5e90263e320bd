// Picks the Store the config names.
import { parseHostPort, type HostPort } from '../config/host-port.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { RedisTarget } from './redis-topology.js';
import type { Store } from './store.js';

export function createStore(config: Config, log: Logger): Store {
  switch (config.store.type) {
    case 'memory':
      return new MemoryStore({
        maxClients: config.throttle.max_clients,
        maxThrottled: config.throttle.max_throttled,
        onThrottlesFull: () =>
          log.warn(
            { event: 'throttle_table_full', max_throttled: config.throttle.max_throttled },
            'throttle.max_throttled live throttles are held: new offenders are held by their counters only',
          ),
      });
    case 'redis': {
      const redis = config.store.redis;
      return new RedisStore({
        target: redisTarget(redis),
        prefix: redis.prefix,
        connectTimeoutMs: redis.connect_timeout,
        commandTimeoutMs: redis.command_timeout,
        throttleCache: {
          maxClients: redis.throttle_cache.max_clients,
          recheckMs: redis.throttle_cache.recheck,
        },
      });
    }
  }
}

/** Where Redis is: the URL, the sentinels, or the cluster's seed nodes (config.store.redis.mode). */
export function redisTarget(redis: Config['store']['redis']): RedisTarget {
  // The schema has checked every address already.
  const nodes = (list: readonly string[]): HostPort[] =>
    list.flatMap((node) => parseHostPort(node) ?? []);
  switch (redis.mode) {
    case 'single':
      return { mode: 'single', url: redis.url };
    case 'sentinel': {
      const sentinel = redis.sentinel;
      return {
        mode: 'sentinel',
        masterName: sentinel.master_name,
        sentinels: nodes(sentinel.nodes),
        username: sentinel.username,
        password: sentinel.password,
        sentinelUsername: sentinel.sentinel_username,
        sentinelPassword: sentinel.sentinel_password,
        tls: sentinel.tls,
      };
    }
    case 'cluster': {
      const cluster = redis.cluster;
      return {
        mode: 'cluster',
        seeds: nodes(cluster.nodes),
        username: cluster.username,
        password: cluster.password,
        tls: cluster.tls,
      };
    }
  }
}
