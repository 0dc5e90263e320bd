// The header block the upstream receives (CONTRACT §7): the client's headers minus hop-by-hop
// fields, the body framed again, and X-Forwarded-For, -Proto and -Host written.
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { connectionNamed, HOP_BY_HOP } from './hop-by-hop.js';
import type { Peer } from './peer.js';

/**
 * Builds a fresh object; `req.headers` stays as the client sent it. `webSocket` keeps
 * `Connection: upgrade` and `Upgrade` for a real WebSocket handshake.
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  peer: Peer,
  webSocket: boolean,
): OutgoingHttpHeaders {
  const incoming = req.headers;
  const named = connectionNamed(incoming.connection);
  const headers: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    headers[name] = incoming[name];
  }

  if (webSocket) {
    headers.connection = 'upgrade';
    headers.upgrade = incoming.upgrade;
  } else if (incoming['transfer-encoding'] !== undefined) {
    // Node decoded the client's chunked body and writes it on as it comes; saying `chunked` makes
    // it encode again. Without it Node frames POST and PUT bodies itself but writes a GET, DELETE
    // or OPTIONS body raw, which the upstream would read as the next request (smuggling).
    headers['transfer-encoding'] = 'chunked';
  }

  const forwardedFor = headers['x-forwarded-for'];
  headers['x-forwarded-for'] =
    forwardedFor === undefined
      ? peer.address
      : `${Array.isArray(forwardedFor) ? forwardedFor.join(', ') : String(forwardedFor)}, ${peer.address}`;

  // A trusted proxy in front (a TLS-terminating load balancer) knows the scheme and host the
  // browser used; anyone else could claim any, so their values are replaced by this connection's.
  if (!peer.trusted || headers['x-forwarded-proto'] === undefined) {
    headers['x-forwarded-proto'] = peer.proto;
  }
  if (!peer.trusted || headers['x-forwarded-host'] === undefined) {
    if (incoming.host !== undefined) headers['x-forwarded-host'] = incoming.host;
    else delete headers['x-forwarded-host'];
  }
  return headers;
}
