import { expect } from 'chai';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const TOKEN = 'admin-t0ken';

describe('admin API', () => {
  let upstream: Upstream;
  let gw: RunningGateway;
  const nowMs = 1_700_000_040_000;

  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    gw = await startGateway(
      `
upstream: { url: "${upstream.url}" }
admin: { host: 127.0.0.1, port: 0, token: ${TOKEN} }
throttle: { limit: 2, block: 15m, rules: [] }
`,
      { now: () => nowMs },
    );
  });
  afterEach(async () => {
    await gw.stop();
  });

  const admin = (method: string, path: string, token: string | null = TOKEN) =>
    fetch(gw.adminUrl + path, {
      method,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
  const status = async (ip: string) => {
    const res = await fetch(gw.url + '/', { headers: { 'x-forwarded-for': ip } });
    await res.arrayBuffer();
    return res.status;
  };

  it('shows a client that is not throttled', async () => {
    const res = await admin('GET', '/admin/clients/203.0.113.70');
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({
      client: '203.0.113.70',
      throttled: false,
      throttled_until: null,
    });
  });

  it('throttles a client on PUT and shows when the throttle ends', async () => {
    expect((await admin('PUT', '/admin/clients/203.0.113.71/throttle')).status).to.equal(204);
    expect(await status('203.0.113.71')).to.equal(429);
    const shown = await (await admin('GET', '/admin/clients/203.0.113.71')).json();
    expect(shown).to.deep.equal({
      client: '203.0.113.71',
      throttled: true,
      throttled_until: new Date(nowMs + 15 * 60_000).toISOString(),
    });
  });

  it('lifts a throttle and resets the counters on DELETE (a support desk unblocking a customer)', async () => {
    for (let i = 0; i < 3; i++) await status('203.0.113.72');
    expect(await status('203.0.113.72')).to.equal(429);
    expect((await admin('DELETE', '/admin/clients/203.0.113.72/throttle')).status).to.equal(204);
    expect(await status('203.0.113.72')).to.equal(200);
    expect(await status('203.0.113.72')).to.equal(200);
    expect(await status('203.0.113.72')).to.equal(429);
  });

  it('keys an IPv6 address by its prefix', async () => {
    expect((await admin('PUT', '/admin/clients/2001:db8:5:6::1/throttle')).status).to.equal(204);
    const shown = (await (await admin('GET', '/admin/clients/2001:db8:5:6:ffff::2')).json()) as {
      client: string;
      throttled: boolean;
    };
    expect(shown).to.include({ client: '2001:db8:5:6::/64', throttled: true });
  });

  it('lists the throttled clients, and the gauge counts them', async () => {
    for (const ip of ['203.0.113.73', '203.0.113.74']) {
      expect((await admin('PUT', `/admin/clients/${ip}/throttle`)).status).to.equal(204);
    }
    const listed = (await (await admin('GET', '/admin/throttled?limit=10')).json()) as {
      clients: { client: string; throttled_until: string }[];
    };
    expect(listed.clients.map((c) => c.client).sort()).to.deep.equal([
      '203.0.113.73',
      '203.0.113.74',
    ]);
    expect(listed.clients[0]?.throttled_until).to.equal(
      new Date(nowMs + 15 * 60_000).toISOString(),
    );
    const metrics = await (await fetch(gw.adminUrl + '/metrics')).text();
    expect(metrics).to.match(/^gateway_throttled_clients 2$/m);
    expect((await admin('GET', '/admin/throttled?cursor=abc')).status).to.equal(400);
  });

  it('answers 400 for an address that does not parse', async () => {
    for (const bad of ['not-an-ip', '1.2.3', '999.1.1.1']) {
      expect((await admin('GET', `/admin/clients/${bad}`)).status, bad).to.equal(400);
      expect((await admin('PUT', `/admin/clients/${bad}/throttle`)).status, bad).to.equal(400);
    }
  });

  it('refuses every admin route without the token, however the path is written', async () => {
    for (const path of [
      '/admin/clients/1.2.3.4',
      '/ADMIN/clients/1.2.3.4',
      '//admin/clients/1.2.3.4',
      '/x/../admin/clients/1.2.3.4',
      '/%61dmin/clients/1.2.3.4',
    ]) {
      expect((await admin('GET', path, null)).status, path).to.equal(401);
      expect((await admin('PUT', path + '/throttle', 'wrong')).status, path).to.equal(401);
    }
  });
});
