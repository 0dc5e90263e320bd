// Hands http-proxy the exact request line and headers the upstream must receive.
//
// http-proxy 1.18.1 builds them itself in `setupOutgoing`: the path through url.parse and a join
// that collapses `//` and turns `\` into `/` (the path must go on untouched, CONTRACT §7), the
// headers by copying req.headers. Its one hook to change them, the 'proxyReq' event, fires when a
// socket is assigned: for a request queued behind `max_sockets` the body has flushed the head by
// then and setHeader throws outside any handler (a process crash), and for `Expect: 100-continue`
// it never fires at all, so edits made there can be skipped by the client.
//
// setupOutgoing fills the object passed as the `ssl` option and http.request copies its own
// enumerable properties, so read-only properties on that object pin what setupOutgoing may not
// rewrite. http-proxy is pinned at 1.18.1: a release that turned strict mode on would make those
// writes throw, and the proxy tests would say so at once.
import type { ClientRequest, OutgoingHttpHeaders } from 'node:http';

/** The per-request `ssl` option for http-proxy's web() and ws(). */
export function pinnedOutgoing(
  path: string,
  headers: OutgoingHttpHeaders,
  onRequest?: (req: ClientRequest) => void,
): Record<string, unknown> {
  // Read-only data properties: setupOutgoing's writes to them are ignored (http-proxy's modules
  // are sloppy-mode code, where such a write fails silently), and unlike accessors they keep the
  // object cheap for http.request to copy (accessors cost some 3 µs a request in the profile).
  // setupOutgoing still writes Host into `headers` for `change_origin`.
  return Object.defineProperties(
    // Hands the proxy the upstream request as soon as it exists (upstream-agent.ts), so it can be
    // destroyed at any point, even while it waits for a pooled socket: cheaper than an
    // AbortSignal per request, which the profile showed at about 8 µs.
    { onRequest },
    { path: { value: path, enumerable: true }, headers: { value: headers, enumerable: true } },
  );
}
