// Two gateway replicas sharing one Redis (CONTRACT §10): one count, one throttle, one captcha pass
// for a client whichever replica it reaches, and no lost count under concurrency.
import { expect } from 'chai';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { deleteKeys, needRedis, randomPrefix, REDIS_URL } from '../helpers/redis-server.js';
import { startSiteverify, type SiteverifyServer } from '../helpers/siteverify-server.js';
import { startUpstream } from '../helpers/upstream.js';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

const CSRF_RE = /name='csrfmiddlewaretoken' value='(\w+)'/;

describe('two replicas sharing one Redis (CONTRACT §10)', function () {
  let upstream: Upstream;
  let siteverify: SiteverifyServer;
  let prefix: string;
  let a: RunningGateway;
  let b: RunningGateway;

  before(async function () {
    await needRedis(this);
    upstream = await startUpstream();
    siteverify = await startSiteverify();
  });
  after(async () => {
    await upstream?.close();
    await siteverify?.close();
  });
  beforeEach(async () => {
    prefix = randomPrefix();
    const yaml = `
upstream: { url: "${upstream.url}" }
throttle: { limit: 4, window: 60s, rules: [] }
captcha: { site_key: site-key, secret: captcha-secret, verify_url: "${siteverify.url}" }
csrf: { secret: one-secret-for-all-replicas }
store: { type: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}" } }
`;
    [a, b] = await Promise.all([startGateway(yaml), startGateway(yaml)]);
  });
  afterEach(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await deleteKeys(prefix);
  });

  async function get(gw: RunningGateway, ip: string, path = '/api/'): Promise<number> {
    const res = await fetch(gw.url + path, { headers: { 'x-forwarded-for': ip } });
    await res.arrayBuffer();
    return res.status;
  }

  it('counts a client across replicas: request limit+1 is intercepted wherever it lands', async () => {
    const ip = '203.0.113.10';
    const statuses = [];
    for (const gw of [a, b, a, b, a]) statuses.push(await get(gw, ip, '/across/'));
    expect(statuses).to.deep.equal([200, 200, 200, 200, 429]);
    expect(upstream.requests.filter((r) => r.url === '/across/')).to.have.length(4);
  });

  it('shows a throttle set on one replica to the other', async () => {
    const ip = '203.0.113.11';
    for (let i = 0; i < 5; i++) await get(a, ip);
    expect(await get(b, ip, '/elsewhere/')).to.equal(429);
    expect(upstream.requests.some((r) => r.url === '/elsewhere/')).to.equal(false);
  });

  it('lifts the throttle everywhere when the captcha is passed on one replica', async () => {
    const ip = '203.0.113.12';
    for (let i = 0; i < 5; i++) await get(a, ip);
    expect(await get(b, ip)).to.equal(429);

    // The form (and its CSRF token) comes from replica B, the answer goes to replica A.
    const page = await fetch(b.url + '/users/captcha/', {
      headers: { 'x-forwarded-for': ip, accept: 'application/json' },
    });
    const { html } = (await page.json()) as { html: string };
    const token = CSRF_RE.exec(html)?.[1];
    expect(token).to.be.a('string');
    const verified = await fetch(a.url + '/users/captcha/', {
      method: 'POST',
      headers: {
        'x-forwarded-for': ip,
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrftoken': token!,
        cookie: `csrftoken=${token}`,
        'x-requested-with': 'XMLHttpRequest',
      },
      body: new URLSearchParams({ 'g-recaptcha-response': 'pass-1' }).toString(),
    });
    expect(verified.status).to.equal(200);
    expect(await verified.json()).to.deep.equal({ location: '/' });

    // Lifted on B too, with fresh counters: limit requests pass again, then limit+1 is caught.
    const statuses = [];
    for (const gw of [b, a, b, a, b]) statuses.push(await get(gw, ip));
    expect(statuses).to.deep.equal([200, 200, 200, 200, 429]);
  });

  it('honours a clearance granted on one replica on the other, with one count across both', async () => {
    const ip = '203.0.113.14';
    const page = await fetch(a.url + '/users/pz-captcha/', {
      headers: { 'x-forwarded-for': ip, accept: 'application/json' },
    });
    const token = CSRF_RE.exec(((await page.json()) as { html: string }).html)![1]!;
    const verified = await fetch(a.url + '/users/pz-captcha/', {
      method: 'POST',
      headers: {
        'x-forwarded-for': ip,
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrftoken': token,
        cookie: `csrftoken=${token}`,
        'x-requested-with': 'XMLHttpRequest',
      },
      body: 'g-recaptcha-response=pass-1',
    });
    const clearance = verified.headers.get('set-cookie')!.split(';')[0]!;
    // Another address altogether: the clearance, not the address, is what is counted.
    const statuses = [];
    for (const gw of [b, a, b, a, b]) {
      const res = await fetch(gw.url + '/api/', {
        headers: { 'x-forwarded-for': '198.51.100.99', cookie: clearance },
      });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).to.deep.equal([200, 200, 200, 200, 429]);
    expect(await get(a, '198.51.100.99')).to.equal(200);
  });

  it('proxies exactly limit of several hundred simultaneous requests spread over both', async () => {
    const limit = 50;
    const yaml = `
upstream: { url: "${upstream.url}" }
throttle: { limit: ${limit}, window: 60s, rules: [] }
store: { type: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}" } }
`;
    const [c, d] = await Promise.all([startGateway(yaml), startGateway(yaml)]);
    try {
      const ip = '203.0.113.13';
      const statuses = await Promise.all(
        Array.from({ length: 400 }, (_, i) => get(i % 2 === 0 ? c : d, ip, '/burst/')),
      );
      expect(statuses.filter((s) => s === 200)).to.have.length(limit);
      expect(statuses.filter((s) => s === 429)).to.have.length(400 - limit);
      expect(upstream.requests.filter((r) => r.url === '/burst/')).to.have.length(limit);
    } finally {
      await Promise.all([c.stop(), d.stop()]);
    }
  });
});
