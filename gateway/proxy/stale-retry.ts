// Decides whether an upstream request may be sent once more after its pooled keep-alive connection
// broke: the upstream closed the idle connection just as the gateway reused it, a race no timeout
// setting removes. Only requests that are safe to repeat and that the upstream cannot have answered
// qualify; everything else keeps its 502.
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** What the proxy knows about the socket one upstream request was sent on. */
export interface SocketUse {
  /** The agent took the socket from its idle pool (`ClientRequest.reusedSocket`). */
  readonly reused: boolean;
  readonly socket: Socket | null;
  /** `socket.bytesRead` when the request got it: later reads are this request's response. */
  readonly bytesReadBefore: number;
}

/** Read when the upstream request gets its socket (its 'socket' event). */
export function socketUse(proxyReq: ClientRequest): SocketUse {
  const socket = proxyReq.socket;
  return {
    reused: proxyReq.reusedSocket,
    socket,
    bytesReadBefore: socket?.bytesRead ?? 0,
  };
}

// What a write to, or a read from, a connection the peer already closed ends with; Node also
// names its 'socket hang up' (closed before any response) ECONNRESET.
const STALE_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

/**
 * True when `error` is a stale keep-alive connection failing a request that can be sent again:
 * a GET or HEAD without a body (RFC 9110 §9.2.2: idempotent, and nothing was streamed that could
 * not be streamed again), on a reused socket, before a single response byte arrived.
 */
export function isStaleSocketFailure(
  req: IncomingMessage,
  use: SocketUse | undefined,
  error: Error,
): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (hasBody(req)) return false;
  if (!use?.reused || !use.socket) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === undefined || !STALE_CODES.has(code)) return false;
  // Bytes read since the request got the socket are the start of an answer: the upstream read
  // this request, so it was not lost in the race, and the client gets the 502.
  return use.socket.bytesRead === use.bytesReadBefore;
}

/** The request says it carries a body: chunked, or a Content-Length other than 0. */
export function hasBody(req: IncomingMessage): boolean {
  const { headers } = req;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && Number(length) !== 0;
}
