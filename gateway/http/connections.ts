// Keeps a server's open connections, upgraded ones (WebSocket tunnels) included, so a graceful
// shutdown knows when the last one is gone and can cut the rest at its deadline: the server's
// own closeAllConnections() no longer sees a socket once it was upgraded.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { EventEmitter, once } from 'node:events';

export interface ConnectionTracker {
  /** Connections open now. */
  readonly size: number;
  /** Resolves true once every connection has closed, false if `timeoutMs` passed first. */
  drained(timeoutMs: number): Promise<boolean>;
  /** Destroys every connection still open. */
  destroyAll(): void;
}

/** `onCount` hears the number open after each change. */
export function trackConnections(
  server: Server,
  onCount: (open: number) => void = () => {},
): ConnectionTracker {
  const open = new Set<Socket>();
  const events = new EventEmitter();
  server.on('connection', (socket: Socket) => {
    // A socket handed back to the server (replay-request.ts) is already kept.
    if (open.has(socket)) return;
    open.add(socket);
    onCount(open.size);
    socket.once('close', () => {
      open.delete(socket);
      onCount(open.size);
      if (open.size === 0) events.emit('empty');
    });
  });
  return {
    get size() {
      return open.size;
    },
    async drained(timeoutMs) {
      if (open.size === 0) return true;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        await once(events, 'empty', { signal });
        return true;
      } catch {
        return false;
      }
    },
    destroyAll() {
      for (const socket of open) socket.destroy();
    },
  };
}
