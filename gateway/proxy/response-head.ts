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
  const kept = endToEndHeaders(proxyRes.rawHeaders);
  if (requestId !== undefined && !hasRequestId(kept)) kept.push('x-request-id', requestId);
  // A draining gateway tells keep-alive clients to reconnect elsewhere.
  if (draining) kept.push('connection', 'close');
  res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, kept);
}

/** The upstream's header lines as a flat [name, value, …] array, minus hop-by-hop fields. */
export function endToEndHeaders(raw: readonly string[]): string[] {
  const headers: string[] = [];
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const known = FIELDS.match(name);
    if (known === undefined || known === 'x-request-id') {
      headers.push(name, raw[i + 1]!);
    } else if (known === 'connection') {
      named = connectionNamed(raw[i + 1], named);
    }
  }
  // Connection may name fields that came before it; rare enough to pay a second pass.
  return named === undefined ? headers : withoutNamed(headers, named);
}

/** A response head as raw text: the status line, `headers` ([name, value, …]), a blank line. */
export function headBlock(statusLine: string, headers: readonly string[]): string {
  let text = `${statusLine}\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${text}\r\n`;
}

function hasRequestId(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (FIELDS.match(headers[i]!) === 'x-request-id') return true;
  }
  return false;
}

function withoutNamed(headers: string[], named: ReadonlySet<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (!named.has(name.toLowerCase())) kept.push(name, headers[i + 1]!);
  }
  return kept;
}
