// Bounds the connections one client address holds open at once (nginx `limit_conn` per address):
// one more is destroyed as it is accepted, before a byte of it is read, so no one address can
// take the process's file descriptors. Trusted proxies, which carry everyone's connections, are
// not bounded; behind them, the per-client bound on upstream requests still holds.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ClientConnectionOptions {
  /** listen.max_connections_per_client */
  readonly limit: number;
  /** The key a peer address is counted under; undefined for a peer that is not bounded. */
  readonly keyOf: (remoteAddress: string | undefined) => string | undefined;
  /** Called for each connection refused. Must not throw. */
  readonly onRefused: () => void;
}

export function limitClientConnections(server: Server, options: ClientConnectionOptions): void {
  const open = new Map<string, number>();
  // A socket handed back to the server (replay-request.ts) is counted once.
  const seen = new WeakSet<Socket>();
  server.on('connection', (socket: Socket) => {
    if (seen.has(socket)) return;
    seen.add(socket);
    const key = options.keyOf(socket.remoteAddress);
    if (key === undefined) return;
    const count = open.get(key) ?? 0;
    if (count >= options.limit) {
      options.onRefused();
      socket.destroy();
      return;
    }
    open.set(key, count + 1);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left === 0) open.delete(key);
      else open.set(key, left);
    });
  });
}
