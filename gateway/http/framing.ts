// Refuses requests whose framing two HTTP parsers could read differently (RFC 9112 §6.3, §3.2):
// a proxy that forwards them as sent invites request smuggling and host confusion. Node's strict
// parser already refuses Content-Length with Transfer-Encoding and malformed chunking.
import type { IncomingMessage } from 'node:http';

/** Why `req` must be refused with 400, or undefined when its framing is unambiguous. */
export function framingProblem(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts += 1;
      if (raw[i + 1]!.trim() === '') return 'empty Host';
    }
  }
  // Node keeps the first of several Host headers; the upstream may keep the last.
  if (hosts > 1) return 'duplicate Host';
  const http11 = req.httpVersionMajor === 1 && req.httpVersionMinor === 1;
  if (hosts === 0 && http11) return 'missing Host';
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) {
    // HTTP/1.0 has no chunked coding; a 1.0 message that claims one is framed ambiguously.
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)
      return 'Transfer-Encoding in HTTP/1.0';
    // Only a lone `chunked` is unambiguous: `identity, chunked`, `chunked, chunked` or `gzip`
    // are read differently by different servers.
    if (te.trim().toLowerCase() !== 'chunked') return 'Transfer-Encoding other than chunked';
  }
  return undefined;
}

const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;

/**
 * Every method an override header (X-HTTP-Method-Override and alike) asks the upstream to apply,
 * upper-cased; undefined when there is none. All three headers and every comma-separated entry
 * count (Node joins repeated lines with ", "): which one an upstream framework honours is its own
 * choice, so a rule must see them all.
 */
export function overriddenMethods(req: IncomingMessage): readonly string[] | undefined {
  const h = req.headers;
  let methods: string[] | undefined;
  for (const name of OVERRIDE_HEADERS) {
    const value = h[name];
    if (typeof value !== 'string') continue;
    for (const entry of value.split(',')) {
      const method = entry.trim().toUpperCase();
      if (method !== '') (methods ??= []).push(method);
    }
  }
  return methods;
}
