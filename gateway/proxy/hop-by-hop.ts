// The hop-by-hop header fields of RFC 9110 §7.6.1: they describe one connection, not the message,
// so the proxy drops them in both directions, together with every field Connection names.

/** Lower-case names that never cross the proxy, whatever Connection says. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// Fields a client (or upstream) may name in Connection but that the proxy keeps: dropping
// Content-Length from a GET or DELETE would send its body unframed, where the upstream reads it as
// the next request on the pooled connection (request smuggling). Host only routes the request.
const KEPT_WHEN_NAMED: ReadonlySet<string> = new Set(['content-length', 'host']);

/**
 * Adds the field names listed in one Connection value to `into` (lower case) and returns it.
 * Names that are dropped anyway, `close`, and the kept framing fields are skipped, so the common
 * `Connection: keep-alive` allocates nothing and returns `into` (possibly undefined).
 */
export function connectionNamed(
  value: string | readonly string[] | undefined,
  into?: Set<string>,
): Set<string> | undefined {
  if (value === undefined) return into;
  if (typeof value !== 'string') {
    for (const line of value) into = connectionNamed(line, into);
    return into;
  }
  let start = 0;
  while (start <= value.length) {
    const comma = value.indexOf(',', start);
    const end = comma === -1 ? value.length : comma;
    const name = value.slice(start, end).trim().toLowerCase();
    if (name !== '' && name !== 'close' && !HOP_BY_HOP.has(name) && !KEPT_WHEN_NAMED.has(name)) {
      (into ??= new Set()).add(name);
    }
    start = end + 1;
  }
  return into;
}
