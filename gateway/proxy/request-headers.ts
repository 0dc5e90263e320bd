// The header block the upstream receives: the client's header lines as they came (name
// case, order and repeats kept), minus hop-by-hop fields, the body framed again, and
// X-Forwarded-For, -Proto, -Host and X-Request-Id written.
//
// The block is a flat [name, value, …] array: http.request then writes it as it is, where an object
// would cost a validated, lower-cased setHeader per field and a second copy in a header map.
import type { IncomingMessage } from 'node:http';
import { FieldNames } from './field-names.js';
import { connectionNamed, HOP_BY_HOP } from './hop-by-hop.js';
import type { Peer } from './peer.js';

/** What stays the same for every request of one proxy (and kind: web or WebSocket). */
export interface UpstreamHeaderOptions {
  /** Keep `Connection: upgrade` and `Upgrade` (a real WebSocket handshake). */
  readonly webSocket: boolean;
  /** The upstream's `host[:port]`: the Host with change_origin, or when the client sent none. */
  readonly upstreamHost: string;
  readonly changeOrigin: boolean;
}

/** Every field the loop below treats apart; all others go on as they came. */
const FIELDS = new FieldNames([
  ...HOP_BY_HOP,
  'host',
  'content-length',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);

// Methods Node's client sends with `Transfer-Encoding: chunked` when the header block says nothing
// of a body; the others go without any framing field (RFC 9110 §9.3: no body is expected of them).
const FRAMED_BY_DEFAULT = (method: string | undefined): boolean =>
  method !== 'GET' &&
  method !== 'HEAD' &&
  method !== 'DELETE' &&
  method !== 'OPTIONS' &&
  method !== 'TRACE' &&
  method !== 'CONNECT';

/**
 * Builds a fresh array; `req.headers` and `req.rawHeaders` stay as the client sent them.
 * `requestId` is sent as X-Request-Id in place of any the client sent; none when undefined.
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  peer: Peer,
  requestId: string | undefined,
  options: UpstreamHeaderOptions,
): string[] {
  const raw = req.rawHeaders;
  // Node joins all Connection lines into one value; their names may come after the fields they name.
  const named = connectionNamed(req.headers.connection);
  const out: string[] = [];
  let host: string | undefined;
  let sized = false;
  let chunked = false;
  let forwardedFor: string | undefined;
  let keptProto = false;
  let keptHost = false;

  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const known = FIELDS.match(name);
    if (known === undefined) {
      if (named === undefined || !named.has(name.toLowerCase())) out.push(name, value);
      continue;
    }
    switch (known) {
      case 'host':
        // One at most: http/framing.ts refuses a request with several.
        host = value;
        out.push(name, options.changeOrigin ? options.upstreamHost : value);
        continue;
      case 'content-length':
        sized = true;
        out.push(name, value);
        continue;
      case 'transfer-encoding':
        chunked = true;
        continue;
      case 'x-request-id':
        continue;
      case 'x-forwarded-for':
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        if (named?.has(known)) continue;
        break;
      default:
        continue; // hop-by-hop
    }
    if (known === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
    } else if (peer.trusted) {
      // A trusted proxy in front (a TLS-terminating load balancer) knows the scheme and host the
      // browser used; anyone else could claim any, so theirs are replaced by this connection's.
      if (known === 'x-forwarded-proto') keptProto = true;
      else keptHost = true;
      out.push(name, value);
    }
  }

  // Node adds the upstream's Host to an object header block that has none (an HTTP/1.0 client),
  // but not to an array; done here so the upstream sees the same.
  if (host === undefined) out.push('host', options.upstreamHost);
  if (options.webSocket) {
    out.push('connection', 'upgrade', 'upgrade', String(req.headers.upgrade));
  } else if (chunked) {
    // Node decoded the client's chunked body and writes it on as it comes; saying `chunked` makes
    // it encode again. Without it a GET, DELETE or OPTIONS body would go out raw, and the upstream
    // would read it as the next request (smuggling).
    out.push('transfer-encoding', 'chunked');
  } else if (!sized && FRAMED_BY_DEFAULT(req.method)) {
    // No framing field means no body (RFC 9112 §6.3); said plainly, as Node says it for an object
    // header block, rather than as an empty chunked body.
    out.push('content-length', '0');
  }
  out.push(
    'x-forwarded-for',
    forwardedFor === undefined ? peer.address : `${forwardedFor}, ${peer.address}`,
  );
  if (!keptProto) out.push('x-forwarded-proto', peer.proto);
  if (!keptHost && host !== undefined) out.push('x-forwarded-host', host);
  if (requestId !== undefined) out.push('x-request-id', requestId);
  return out;
}
