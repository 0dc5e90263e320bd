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
// enumerable properties, so accessors on that object pin what setupOutgoing may not rewrite.
import type { ClientRequest, OutgoingHttpHeaders } from 'node:http';

/** The per-request `ssl` option for http-proxy's web() and ws(). */
export function pinnedOutgoing(
  path: string,
  headers: OutgoingHttpHeaders,
  onRequest?: (req: ClientRequest) => void,
): Record<string, unknown> {
  return {
    get path() {
      return path;
    },
    set path(_rebuilt: unknown) {},
    // setupOutgoing still writes Host here for `change_origin`, through this getter.
    get headers() {
      return headers;
    },
    set headers(_copied: unknown) {},
    // Hands the proxy the upstream request as soon as it exists (upstream-agent.ts), so it can be
    // destroyed at any point, even while it waits for a pooled socket: cheaper than an
    // AbortSignal per request, which the profile showed at about 8 µs.
    onRequest,
  };
}
