// The floor: a plain node:http server handing every request to http-proxy with a keep-alive agent.
// Any Koa + http-proxy gateway does at least this much work per request.
import http from 'node:http';
import httpProxy from 'http-proxy';
import { childInput, serve } from './child.js';

const { upstreamUrl } = childInput<{ upstreamUrl: string }>();
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const proxy = httpProxy.createProxyServer({ target: upstreamUrl, agent });
proxy.on('error', (_error, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});

serve(http.createServer((req, res) => proxy.web(req, res)));
