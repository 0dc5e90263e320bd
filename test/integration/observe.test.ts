import { expect } from 'chai';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

describe('observe mode', () => {
  it('proxies every request a throttle would have stopped, and counts it as would_throttle', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway(`
upstream: { url: "${upstream.url}" }
throttle: { mode: observe, limit: 2, rules: [] }
`);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(gw.url + '/api/', {
          headers: { 'x-forwarded-for': '203.0.113.80', accept: 'text/html' },
          redirect: 'manual',
        });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      expect(statuses).to.deep.equal([200, 200, 200, 200, 200]);
      expect(upstream.requests).to.have.length(5);
      const text = await (await fetch(gw.adminUrl + '/metrics')).text();
      expect(text).to.match(/^gateway_requests_total\{outcome="proxied"\} 2$/m);
      expect(text).to.match(/^gateway_requests_total\{outcome="would_throttle"\} 3$/m);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});
