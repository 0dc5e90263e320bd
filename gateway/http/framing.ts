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

/** The method an override header asks the upstream to apply, if any (X-HTTP-Method-Override…). */
export function overriddenMethod(req: IncomingMessage): string | undefined {
  const h = req.headers;
  const value = h['x-http-method-override'] ?? h['x-http-method'] ?? h['x-method-override'];
  return typeof value === 'string' && value !== '' ? value.trim().toUpperCase() : undefined;
}
