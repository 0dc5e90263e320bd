// The upstream proxy mounted on a bare HTTP server, as the gateway mounts it, and a one-call
// client: shared by the proxy tests so each file states only its own behaviour.
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { AddressSet } from '../../../gateway/client-ip/cidr.js';
import type { Config } from '../../../gateway/config/schema.js';
import {
  type ClientTimeouts,
  createUpstreamProxy,
  type UpstreamFault,
  type UpstreamProxy,
} from '../../../gateway/proxy/proxy.js';

export interface Gateway {
  readonly port: number;
  readonly proxy: UpstreamProxy;
  /** Every onUpstreamError call, in order. */
  readonly faults: { url: string; kind: UpstreamFault }[];
  draining: boolean;
  close(): Promise<void>;
}

export interface GatewayOptions {
  readonly upstream?: Partial<Config['upstream']>;
  readonly clientTimeouts?: Partial<ClientTimeouts>;
  /** Trusted proxy entries; loopback (the test client) by default. */
  readonly trusted?: readonly string[];
  /** Replaces the plain `proxy.web(req, res)` request handler. */
  readonly handle?: (
    proxy: UpstreamProxy,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ) => void;
}

/** The proxy mounted on a bare HTTP server, as the gateway mounts it. */
export async function startGateway(url: string, options: GatewayOptions = {}): Promise<Gateway> {
  const faults: { url: string; kind: UpstreamFault }[] = [];
  const gateway = {
    faults,
    draining: false,
  } as Gateway;
  const proxy = createUpstreamProxy({
    upstream: {
      url,
      timeout: 5000,
      connect_timeout: 2000,
      change_origin: false,
      max_sockets: 16,
      // The per-client share is the gateway's (client-share.ts), not the proxy's.
      max_requests_per_client: 16,
      ...options.upstream,
    },
    clientTimeouts: {
      bodyMs: 10_000,
      sendMs: 10_000,
      tunnelIdleMs: 10_000,
      ...options.clientTimeouts,
    },
    trusted: new AddressSet(options.trusted ?? ['loopback']),
    isDraining: () => gateway.draining,
    onUpstreamError: (req, kind) => faults.push({ url: req.url ?? '', kind }),
  });
  const handle = options.handle ?? ((p, req, res) => p.web(req, res));
  const server = http.createServer((req, res) => handle(proxy, req, res));
  server.on('upgrade', (req, socket, head) => proxy.ws(req, socket, head));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(gateway, {
    port: (server.address() as net.AddressInfo).port,
    proxy,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      proxy.close();
    },
  });
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export interface Call {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: string | Buffer;
  readonly agent?: http.Agent | false;
}

/** One request through the gateway, body read whole (only small bodies come back this way). */
export async function call(
  port: number,
  { body, agent = false, ...options }: Call = {},
): Promise<Reply> {
  const req = http.request({ host: '127.0.0.1', port, agent, ...options });
  req.end(body);
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    rawHeaders: res.rawHeaders,
    body: Buffer.concat(chunks),
  };
}
