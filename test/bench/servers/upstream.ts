// The fallback origin when nginx is not installed: a node:http server answering every GET with a
// fixed body and its Content-Length: `/64k` with 65,536 bytes, `/1m` with 1 MiB, anything else with
// 100 bytes. Keep-alive, as a shop's origin is.
import http from 'node:http';
import { serve } from './child.js';
import { ORIGIN_BODIES } from '../origin-bodies.js';

const bodies = new Map<string, Buffer>(
  ORIGIN_BODIES.map(({ path, bytes }) => [path, Buffer.alloc(bytes, 0x61)] as const),
);
const small = bodies.get('/')!;

const server = http.createServer((req, res) => {
  const body = bodies.get(req.url ?? '/') ?? small;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': body.length,
  });
  res.end(body);
});
server.keepAliveTimeout = 75_000;

serve(server);
