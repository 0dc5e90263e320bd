// The socket pools to the upstream: the keep-alive pool, and one that never pools, for resends
// (stale-retry.ts). Both put `upstream.connect_timeout` on every new connection: Node has no
// connect timeout of its own, and the kernel gives up on a SYN only after minutes.
import http, { type ClientRequest } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

/** The code of the error a connection attempt ends with when `connect_timeout` passes. */
export const CONNECT_TIMEOUT = 'UPSTREAM_CONNECT_TIMEOUT';

/** Told of each upstream request as it is made, before it waits for a socket. */
export interface RequestOwner {
  adopt(req: ClientRequest): void;
}

export interface UpstreamAgentOptions {
  readonly tls: boolean;
  readonly maxSockets: number;
  readonly connectTimeoutMs: number;
  /** Pool idle connections for the next request; false closes each after its response. */
  readonly keepAlive: boolean;
}

export function createUpstreamAgent(options: UpstreamAgentOptions): http.Agent {
  const { tls, maxSockets, connectTimeoutMs, keepAlive } = options;
  const agent = tls
    ? new https.Agent({ keepAlive, maxSockets })
    : new http.Agent({ keepAlive, maxSockets });
  const connect = agent.createConnection.bind(agent);
  // The guard sits on the connection, not the request: a pooled socket that is already connected
  // costs nothing, and DNS lookup, TCP (and TLS) handshake all count.
  agent.createConnection = (connectOptions, callback) => {
    const socket = connect(connectOptions, callback);
    if (socket) guardConnect(socket as Socket, connectTimeoutMs, tls ? 'secureConnect' : 'connect');
    return socket;
  };
  // http-proxy gives no handle on the upstream request before it has a socket, and a request
  // queued behind max_sockets may wait long for one. Node hands every request to its agent at
  // once, with the options it was made from: an `owner` there learns of it (outgoing.ts).
  const pool = agent as unknown as AgentInternals;
  const addRequest = pool.addRequest;
  pool.addRequest = function addOwnedRequest(req, requestOptions) {
    requestOptions.owner?.adopt(req);
    addRequest.call(this, req, requestOptions);
  };
  return agent;
}

/** The undocumented, long-stable Agent method every request goes through (lib/_http_agent.js). */
interface AgentInternals {
  addRequest(this: http.Agent, req: ClientRequest, options: { owner?: RequestOwner }): void;
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
