// Counts a server's open connections so a graceful shutdown knows when the last one is gone.
import type { Server } from 'node:http';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';

export interface ConnectionTracker {
  /** Resolves true once every connection has closed, false if `timeoutMs` passed first. */
  drained(timeoutMs: number): Promise<boolean>;
}

export function trackConnections(server: Server): ConnectionTracker {
  let open = 0;
  const events = new EventEmitter();
  server.on('connection', (socket) => {
    open += 1;
    socket.once('close', () => {
      open -= 1;
      if (open === 0) events.emit('empty');
    });
  });
  return {
    async drained(timeoutMs) {
      if (open === 0) return true;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        await once(events, 'empty', { signal });
        return true;
      } catch {
        return false;
      }
    },
  };
}
