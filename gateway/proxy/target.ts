// Turns upstream.url into what the proxy needs, once: where to connect, parsed so it is not parsed
// again on every request, and the base path put before every request path.

export interface UpstreamTarget {
  /** Where upstream requests go (upstream-request.ts). */
  readonly proxyTarget: {
    readonly protocol: string;
    /** `host[:port]` as in the URL; written as Host with `change_origin`. */
    readonly host: string;
    /** What to connect to; an IPv6 literal without its brackets. */
    readonly hostname: string;
    readonly port: number;
  };
  readonly tls: boolean;
  /** The path of upstream.url without its trailing slash: '' for `http://backend:8000/`. */
  readonly basePath: string;
}

export function parseUpstreamTarget(url: string): UpstreamTarget {
  const parsed = new URL(url);
  const tls = parsed.protocol === 'https:';
  const hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const path = parsed.pathname;
  return {
    proxyTarget: {
      protocol: parsed.protocol,
      host: parsed.host,
      hostname,
      port: parsed.port === '' ? (tls ? 443 : 80) : Number(parsed.port),
    },
    tls,
    basePath: path.endsWith('/') ? path.slice(0, -1) : path,
  };
}

/** The upstream path of a request target: the base path, then the target exactly as received. */
export function upstreamPath(basePath: string, requestTarget: string): string {
  // `*` (OPTIONS *) and absolute-form targets are not paths; they go on as they are.
  return basePath !== '' && requestTarget.startsWith('/')
    ? basePath + requestTarget
    : requestTarget;
}
