// Refuses requests whose framing, target or Host two HTTP parsers could read differently (RFC 9112
// §6.3, §3.2; RFC 9110 §7.2): a proxy that forwards them as sent invites request smuggling and
// host confusion. Node's strict parser already refuses Content-Length with Transfer-Encoding and
// malformed chunking.
import type { IncomingMessage } from 'node:http';

/**
 * Header lines a request may carry (Apache's LimitRequestFields and Tomcat's maxHeaderCount
 * default to the same); browsers send about twenty. Node keeps the first thousand or so lines
 * (its `maxHeadersCount`) and drops the rest unseen, a second `Host` or a `Transfer-Encoding`
 * among them: a request with more lines than this is refused with 431 (RFC 6585 §5), so one whose
 * lines were cut is never forwarded.
 */
export const MAX_HEADER_LINES = 100;

/** Why a request is refused, with the status it is answered with; undefined when it is sound. */
export interface FramingProblem {
  readonly status: 400 | 431;
  readonly reason: string;
}

const TOO_MANY_HEADERS: FramingProblem = { status: 431, reason: 'too many header lines' };
const bad = (reason: string): FramingProblem => ({ status: 400, reason });

// uri-host [ ":" port ]: a DNS name or IPv4 address, or an IP literal in brackets. Stricter than
// RFC 3986's reg-name (no sub-delims such as `,` or `;`, no percent-encoding): a Host an upstream
// or a log could split (`shop, evil`) or read as userinfo (`a@evil`) is refused.
const HOST = /^(?:[A-Za-z0-9_~-](?:[A-Za-z0-9._~-]*)|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/i;

/**
 * Why `req` must be refused, or undefined when its framing is unambiguous. An absolute-form target
 * (`GET http://shop/x`) whose authority is the Host is rewritten to origin-form (`/x`) in
 * `req.url`, as the upstream reads it; any other target that is not a path is refused, and first
 * cut down in `req.url` to its path, so that no authority (it may hold userinfo) is ever logged.
 */
export function framingProblem(req: IncomingMessage): FramingProblem | undefined {
  const authority = takeAuthority(req);
  const raw = req.rawHeaders;
  if (raw.length > 2 * MAX_HEADER_LINES) return TOO_MANY_HEADERS;
  let hosts = 0;
  let host = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts += 1;
      host = raw[i + 1]!.trim();
      if (host === '') return bad('empty Host');
    }
  }
  // Node keeps the first of several Host headers; the upstream may keep the last.
  if (hosts > 1) return bad('duplicate Host');
  const http11 = req.httpVersionMajor === 1 && req.httpVersionMinor === 1;
  if (hosts === 0 && http11) return bad('missing Host');
  if (hosts === 1 && !HOST.test(host)) return bad('malformed Host');
  if (authority === INVALID) return bad('target neither a path nor an http URL');
  if (authority !== undefined) {
    if (authority.includes('@')) return bad('userinfo in the target');
    // RFC 9112 §3.2.2 has the target's host override the Host; two different names are the host
    // confusion one server reads one way and another the other.
    if (authority.toLowerCase() !== host.toLowerCase()) return bad('target host is not the Host');
  }
  // A fragment is the browser's own (RFC 9112 §3.2): never sent, so never to forward.
  if (req.url!.includes('#')) return bad('fragment in the target');
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) {
    // HTTP/1.0 has no chunked coding; a 1.0 message that claims one is framed ambiguously.
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)
      return bad('Transfer-Encoding in HTTP/1.0');
    // Only a lone `chunked` is unambiguous: `identity, chunked`, `chunked, chunked` or `gzip`
    // are read differently by different servers.
    if (te.trim().toLowerCase() !== 'chunked') return bad('Transfer-Encoding other than chunked');
  }
  return undefined;
}

const INVALID = Symbol('invalid target');

/**
 * For an absolute-form target, cuts `req.url` down to its path and query and returns the
 * authority; undefined for a path. Asterisk-form (a server-wide OPTIONS, meaningless to a proxied
 * shop) is INVALID; so is anything else (authority-form too), which becomes `/` in `req.url`.
 */
function takeAuthority(req: IncomingMessage): string | typeof INVALID | undefined {
  const target = req.url ?? '/';
  if (target.charCodeAt(0) === 0x2f /* / */) return undefined;
  if (target === '*') return INVALID;
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute === null) {
    req.url = '/';
    return INVALID;
  }
  const rest = absolute[2]!;
  req.url = rest.charCodeAt(0) === 0x2f ? rest : `/${rest}`;
  return absolute[1]!;
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
