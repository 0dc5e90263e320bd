// Picks the Store the config names.
import type { Config } from '../config/schema.js';
import { MemoryStore } from './memory-store.js';
import type { Store } from './store.js';

export function createStore(config: Config): Store {
  switch (config.store.type) {
    case 'memory':
      return new MemoryStore({ maxClients: config.throttle.max_clients });
    case 'redis':
      throw new Error('the redis store is not available yet');
  }
}
