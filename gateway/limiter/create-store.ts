// Picks the Store the config names.
import type { Config } from '../config/schema.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { Store } from './store.js';

export function createStore(config: Config): Store {
  switch (config.store.type) {
    case 'memory':
      return new MemoryStore({
        maxClients: config.throttle.max_clients,
        maxThrottled: config.throttle.max_throttled,
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
