// A naive peer: what a team writes in an afternoon with the same libraries, Koa + http-proxy with a
// keep-alive agent, counting each client (X-Forwarded-For, else the peer address) in an LRU cache.
// Never throttles at the bench's limit; the count is the work that matters.
import http from 'node:http';
import httpProxy from 'http-proxy';
import Koa from 'koa';
import { LRUCache } from 'lru-cache';
import { childInput, serve } from './child.js';

const { upstreamUrl } = childInput<{ upstreamUrl: string }>();
const LIMIT = 1_000_000_000;
const WINDOW_MS = 60_000;

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const proxy = httpProxy.createProxyServer({ target: upstreamUrl, agent });
proxy.on('error', (_error, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});
const counts = new LRUCache<string, number>({ max: 1_000_000, ttl: WINDOW_MS });

const app = new Koa();
app.use((ctx) => {
  const forwarded = ctx.get('x-forwarded-for');
  const client = forwarded === '' ? (ctx.req.socket.remoteAddress ?? '') : forwarded;
  const count = (counts.get(client) ?? 0) + 1;
  counts.set(client, count, { noUpdateTTL: count > 1 });
  if (count > LIMIT) {
    ctx.status = 429;
    ctx.body = { detail: 'Too many requests' };
    return;
  }
  ctx.respond = false;
  proxy.web(ctx.req, ctx.res);
});

serve(http.createServer(app.callback()));
