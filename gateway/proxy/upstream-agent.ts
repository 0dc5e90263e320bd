// The socket pools to the upstream: the keep-alive pool, and one that never pools, for resends
// (stale-retry.ts). Both put `upstream.connect_timeout` on every new connection: Node has no
// connect timeout of its own, and the kernel gives up on a SYN only after minutes.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** The code of the error a connection attempt ends with when `connect_timeout` passes. */
export const CONNECT_TIMEOUT = 'UPSTREAM_CONNECT_TIMEOUT';

export interface UpstreamAgentOptions {
  readonly tls: boolean;
  readonly maxSockets: number;
  readonly connectTimeoutMs: number;
  /** Pool idle connections for the next request; false closes each after its response. */
  readonly keepAlive: boolean;
}

export function createUpstreamAgent(options: UpstreamAgentOptions): http.Agent {
  const { tls, maxSockets, connectTimeoutMs, keepAlive } = options;
  const ready = tls ? 'secureConnect' : 'connect';
  // createConnection is the Agent's documented extension point for how sockets are made. The
  // guard sits on the connection, not the request: a pooled socket that is already connected
  // costs nothing, and DNS lookup, TCP (and TLS) handshake all count.
  const Base = tls ? https.Agent : http.Agent;
  const GuardedAgent = class extends Base {
    override createConnection(
      connectOptions: http.ClientRequestArgs,
      callback?: (error: Error | null, stream: Duplex) => void,
    ): Duplex | null | undefined {
      const socket = super.createConnection(connectOptions, callback);
      if (socket) guardConnect(socket as Socket, connectTimeoutMs, ready);
      return socket;
    }
  };
  return new GuardedAgent({ keepAlive, maxSockets });
}

function guardConnect(socket: Socket, timeoutMs: number, ready: 'connect' | 'secureConnect'): void {
  const timer = setTimeout(() => {
    // The request that owns the socket listens for 'error' and answers 502; a socket whose request
    // is already gone is closed quietly, since an 'error' nobody hears would crash the process.
    socket.destroy(socket.listenerCount('error') > 0 ? connectTimeoutError(timeoutMs) : undefined);
  }, timeoutMs);
  const clear = () => clearTimeout(timer);
  socket.once(ready, clear);
  socket.once('close', clear);
}

function connectTimeoutError(timeoutMs: number): Error {
  return Object.assign(new Error(`no connection to the upstream within ${timeoutMs} ms`), {
    code: CONNECT_TIMEOUT,
  });
}
