// Writes the upstream's status line and headers onto the client response, minus hop-by-hop fields
// (RFC 9110 §7.6.1), repeated fields such as Set-Cookie kept as they came, in their order and case.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connectionNamed, HOP_BY_HOP } from './hop-by-hop.js';

/** Throws what `res.writeHead` throws (a status or header Node will not send). */
export function writeResponseHead(
  res: ServerResponse,
  proxyRes: IncomingMessage,
  draining: boolean,
): void {
  const raw = proxyRes.rawHeaders;
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      named = connectionNamed(raw[i + 1], named);
    }
  }

  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    headers.push(name, raw[i + 1]!);
  }
  // A draining gateway tells keep-alive clients to reconnect elsewhere (CONTRACT §9).
  if (draining) headers.push('Connection', 'close');
  res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, headers);
}
