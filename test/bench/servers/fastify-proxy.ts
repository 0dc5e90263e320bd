// The second peer: fastify's own proxy stack as its documentation puts it together,
// @fastify/rate-limit (in-memory store, keyed by X-Forwarded-For, else the peer address) in front
// of @fastify/http-proxy (reply-from with its default upstream client). Never throttles at the
// bench's limit.
import httpProxy from '@fastify/http-proxy';
import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { announce, childInput, exitWithParent, refuse } from './child.js';

const { upstreamUrl } = childInput<{ upstreamUrl: string }>();
exitWithParent();
try {
  const app = Fastify({ logger: false });
  await app.register(rateLimit, {
    max: 1_000_000_000,
    timeWindow: 60_000,
    cache: 1_000_000,
    keyGenerator: (request) => {
      const forwarded = request.headers['x-forwarded-for'];
      return typeof forwarded === 'string' ? forwarded : request.ip;
    },
  });
  await app.register(httpProxy, { upstream: upstreamUrl });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  announce(typeof address === 'object' && address !== null ? address.port : 0);
} catch (error) {
  refuse(error);
}
