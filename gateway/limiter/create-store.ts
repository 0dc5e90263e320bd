// Picks the Store the config names.
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
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
        url: redis.url,
        prefix: redis.prefix,
        connectTimeoutMs: redis.connect_timeout,
        commandTimeoutMs: redis.command_timeout,
      });
    }
  }
}
