import { expect } from 'chai';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

describe('RateLimit headers (IETF draft; throttle.headers)', () => {
  const T0 = 1_700_000_040_000; // on a minute boundary

  it('tells the policies and what is left on proxied responses when turned on', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway(
      `
upstream: { url: "${upstream.url}" }
throttle:
  headers: true
  limit: 5
  rules: [{ name: login, path: /users/login/, methods: [POST], limit: 2, window: 60s }]
`,
      { now: () => T0 + 15_000 },
    );
    try {
      const headers = { 'x-forwarded-for': '203.0.113.120' };
      const get = await fetch(gw.url + '/', { headers });
      expect(get.headers.get('ratelimit-policy')).to.equal('"default";q=5;w=60');
      expect(get.headers.get('ratelimit')).to.equal('"default";r=4;t=45');
      const post = await fetch(gw.url + '/users/login/', { method: 'POST', headers, body: 'x' });
      expect(post.headers.get('ratelimit-policy')).to.equal('"default";q=5;w=60, "login";q=2;w=60');
      expect(post.headers.get('ratelimit')).to.equal('"login";r=1;t=45');
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });

  it('sends none by default', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway(`upstream: { url: "${upstream.url}" }`);
    try {
      const res = await fetch(gw.url + '/');
      expect(res.headers.has('ratelimit')).to.equal(false);
      expect(res.headers.has('ratelimit-policy')).to.equal(false);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});
