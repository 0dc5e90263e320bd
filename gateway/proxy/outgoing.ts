// Hands http-proxy the exact request the upstream must receive: method, path, header block, pool.
//
// http-proxy 1.18.1 builds these itself in `common.setupOutgoing`: the path through a join that
// collapses `//` and rewrites `http:/` (the path must go on untouched, CONTRACT §7), the headers by
// copying req.headers into an object that http.request then validates and lower-cases field by
// field. Its one hook to change them, the 'proxyReq' event, fires when a socket is assigned: for a
// request queued behind `max_sockets` the body has flushed the head by then and setHeader throws
// outside any handler (a process crash), and for `Expect: 100-continue` it does not fire.
//
// So setupOutgoing is wrapped: given a PinnedOutgoing (as the `ssl` option, the object it is
// handed to fill), it returns it untouched; anything else goes to http-proxy's own. Other users of
// http-proxy in the process see no change. http-proxy is pinned at 1.18.1, and the load below
// fails loudly if the function it wraps is gone.
import type { Agent } from 'node:http';
import { createRequire } from 'node:module';
import type { RequestOwner } from './upstream-agent.js';
import type { UpstreamTarget } from './target.js';

/** What http.request is given for one upstream request; its own properties are all it copies. */
export class PinnedOutgoing {
  readonly hostname: string;
  readonly port: number;

  /**
   * `headers` is a flat [name, value, …] block, written as it is (request-headers.ts); `owner` is
   * told of the upstream request as soon as it exists (upstream-agent.ts).
   */
  constructor(
    target: UpstreamTarget,
    readonly method: string,
    readonly path: string,
    readonly headers: readonly string[],
    readonly agent: Agent,
    readonly owner: RequestOwner | undefined,
  ) {
    this.hostname = target.proxyTarget.hostname;
    this.port = target.proxyTarget.port;
  }
}

type SetupOutgoing = (outgoing: object, options: object, req: object, forward?: string) => object;

const common = createRequire(import.meta.url)('http-proxy/lib/http-proxy/common.js') as {
  setupOutgoing?: SetupOutgoing;
};
const setupOutgoing = common.setupOutgoing;
if (typeof setupOutgoing !== 'function') {
  throw new Error('http-proxy changed: common.setupOutgoing is gone; review gateway/proxy');
}
common.setupOutgoing = function pinnedOrOwn(outgoing, options, req, forward) {
  return outgoing instanceof PinnedOutgoing
    ? outgoing
    : setupOutgoing(outgoing, options, req, forward);
};
