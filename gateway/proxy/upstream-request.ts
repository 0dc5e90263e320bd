// The gateway's one call that talks to the upstream: a plain http(s).request with the exact
// method, path, header block and pool. Each flight (web-flight.ts, ws-flight.ts) listens to the
// request it made; no proxy engine sits between, and nothing of Node's is patched.
import http, { type Agent, type ClientRequest } from 'node:http';
import https from 'node:https';
import type { UpstreamTarget } from './target.js';

/**
 * `headers` is a flat [name, value, …] block (request-headers.ts): Node writes it as it is, with
 * no header map and no Host of its own. The request is not sent until the caller ends it.
 */
export function requestUpstream(
  target: UpstreamTarget,
  agent: Agent,
  method: string,
  path: string,
  headers: readonly string[],
): ClientRequest {
  const options = {
    hostname: target.proxyTarget.hostname,
    port: target.proxyTarget.port,
    method,
    path,
    headers,
    agent,
  };
  return target.tls ? https.request(options) : http.request(options);
}
