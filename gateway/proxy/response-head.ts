// Writes the upstream's status line and headers onto the client response, minus hop-by-hop fields
// (RFC 9110 §7.6.1), repeated fields such as Set-Cookie kept as they came, in their order and case,
// and X-Request-Id echoed unless the upstream answered with one of its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FieldNames } from './field-names.js';
import { connectionNamed, HOP_BY_HOP } from './hop-by-hop.js';

const FIELDS = new FieldNames([...HOP_BY_HOP, 'x-request-id']);

/**
 * Throws what `res.writeHead` throws (a status or header Node will not send). The array goes to
 * writeHead as it is: with no header set on `res` before, Node writes it without a header map.
 */
export function writeResponseHead(
  res: ServerResponse,
  proxyRes: IncomingMessage,
  requestId: string | undefined,
  draining: boolean,
): void {
  const raw = proxyRes.rawHeaders;
  const headers: string[] = [];
  let named: Set<string> | undefined;
  let upstreamId = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const known = FIELDS.match(name);
    if (known === undefined) {
      headers.push(name, raw[i + 1]!);
    } else if (known === 'x-request-id') {
      upstreamId = true;
      headers.push(name, raw[i + 1]!);
    } else if (known === 'connection') {
      named = connectionNamed(raw[i + 1], named);
    }
  }
  // Connection may name fields that came before it; rare enough to pay a second pass.
  const kept = named === undefined ? headers : withoutNamed(headers, named);
  if (named?.has('x-request-id')) upstreamId = false;
  if (requestId !== undefined && !upstreamId) kept.push('x-request-id', requestId);
  // A draining gateway tells keep-alive clients to reconnect elsewhere (CONTRACT §9).
  if (draining) kept.push('connection', 'close');
  res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, kept);
}

function withoutNamed(headers: string[], named: ReadonlySet<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (!named.has(name.toLowerCase())) kept.push(name, headers[i + 1]!);
  }
  return kept;
}
