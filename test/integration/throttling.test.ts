import { expect } from 'chai';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

function from(ip: string, headers: Record<string, string> = {}): Record<string, string> {
  return { 'x-forwarded-for': ip, ...headers };
}

describe('throttling through a real gateway', () => {
  let upstream: Upstream;
  let gw: RunningGateway;
  let nowMs = 1_700_000_040_000;

  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
  });
  beforeEach(async () => {
    upstream.requests.length = 0;
    gw = await startGateway(
      `
upstream: { url: "${upstream.url}" }
throttle:
  limit: 3
  window: 60s
  block: 15m
  exempt: { paths: [/static/], clients: [192.0.2.0/24] }
  rules:
    - { name: login, path: /users/login/, methods: [POST], limit: 2, window: 60s }
captcha: { secret: s3cret, site_key: sitekey }
`,
      { now: () => nowMs },
    );
  });
  afterEach(async () => {
    await gw.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(gw.url + path, { method, headers, redirect: 'manual' });

  it('proxies requests 1..limit and intercepts request limit+1 without the upstream seeing it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await get(`/api/products/?page=${i}`, from('203.0.113.1'));
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).to.deep.equal([200, 200, 200, 429, 429]);
    expect(upstream.requests.map((r) => r.url)).to.deep.equal([
      '/api/products/?page=0',
      '/api/products/?page=1',
      '/api/products/?page=2',
    ]);
  });

  it('answers a throttled API request 429 JSON with redirect_url, Retry-After and no-store', async () => {
    for (let i = 0; i < 3; i++) await (await get('/api/', from('203.0.113.2'))).arrayBuffer();
    const res = await get(
      '/api/basket/?x=1&y=2',
      from('203.0.113.2', { accept: 'application/json' }),
    );
    expect(res.status).to.equal(429);
    expect(res.headers.get('content-type')).to.equal('application/json');
    expect(res.headers.get('cache-control')).to.equal('no-store');
    expect(res.headers.get('retry-after')).to.equal(String(15 * 60));
    const body = (await res.json()) as { detail: string; redirect_url: string };
    expect(body.detail).to.be.a('string').and.not.equal('');
    expect(body.redirect_url).to.equal(
      `/users/captcha/?next=${encodeURIComponent('/api/basket/?x=1&y=2')}`,
    );
  });

  it('sends a throttled browser navigation to the captcha page with next', async () => {
    for (let i = 0; i < 3; i++) await (await get('/', from('203.0.113.3'))).arrayBuffer();
    const res = await get('/products/42/?color=red', from('203.0.113.3', { accept: HTML }));
    expect(res.status).to.equal(302);
    expect(res.headers.get('location')).to.equal(
      `/users/captcha/?next=${encodeURIComponent('/products/42/?color=red')}`,
    );
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const head = await get('/', from('203.0.113.3', { accept: HTML }), 'HEAD');
    expect(head.status).to.equal(302);
  });

  it('answers 429, not a redirect, to an XHR or a POST even when it accepts HTML', async () => {
    for (let i = 0; i < 3; i++) await (await get('/', from('203.0.113.4'))).arrayBuffer();
    const xhr = await get(
      '/',
      from('203.0.113.4', { accept: HTML, 'x-requested-with': 'XMLHttpRequest' }),
    );
    expect(xhr.status).to.equal(429);
    const post = await fetch(gw.url + '/cart/', {
      method: 'POST',
      headers: from('203.0.113.4', {
        accept: HTML,
        'content-type': 'application/x-www-form-urlencoded',
      }),
      body: 'item=1',
      redirect: 'manual',
    });
    expect(post.status).to.equal(429);
    expect(upstream.requests).to.have.length(3);
  });

  it('still serves the captcha and exempt paths to a throttled client', async () => {
    for (let i = 0; i < 4; i++) await (await get('/', from('203.0.113.5'))).arrayBuffer();
    const captcha = await get('/users/captcha/', from('203.0.113.5'));
    expect(captcha.status).to.equal(200);
    const asset = await get('/static/app.js', from('203.0.113.5'));
    expect(asset.status).to.equal(200);
    expect(upstream.requests.at(-1)?.url).to.equal('/static/app.js');
  });

  it('never counts exempt paths or exempt clients', async () => {
    for (let i = 0; i < 10; i++)
      await (await get('/static/x.css', from('203.0.113.6'))).arrayBuffer();
    expect((await get('/', from('203.0.113.6'))).status).to.equal(200);
    for (let i = 0; i < 10; i++) await (await get('/', from('192.0.2.10'))).arrayBuffer();
    expect((await get('/', from('192.0.2.10'))).status).to.equal(200);
  });

  it('does not let a dot-segment path through a throttle as if it were the captcha or exempt', async () => {
    for (let i = 0; i < 3; i++) await (await get('/', from('203.0.113.7'))).arrayBuffer();
    const seen = upstream.requests.length;
    for (const path of [
      '/users/captcha/../../api/orders/',
      '/static/%2e%2e/api/',
      '/static/..%2fapi/',
    ]) {
      const res = await get(path, from('203.0.113.7'));
      expect(res.status, path).to.equal(429);
    }
    expect(upstream.requests).to.have.length(seen);
  });

  it('counts a rule on its path however oddly it is written', async () => {
    const post = (path: string) =>
      fetch(gw.url + path, {
        method: 'POST',
        headers: from('203.0.113.8'),
        body: 'a=1',
        redirect: 'manual',
      });
    expect((await post('/users/login/')).status).to.equal(200);
    expect((await post('/USERS//login/')).status).to.equal(200);
    expect((await post('/users/%6cogin/')).status).to.equal(429);
  });

  it('applies a method-specific rule only to its methods', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await get('/users/login/', from('203.0.113.9'))).status).to.equal(200);
    }
  });

  it('counts clients apart by the right-most untrusted X-Forwarded-For entry', async () => {
    for (let i = 0; i < 3; i++) await (await get('/', from('203.0.113.10'))).arrayBuffer();
    expect((await get('/', from('203.0.113.10'))).status).to.equal(429);
    // The spoofed left-most entry does not change who the client is.
    expect((await get('/', from('1.1.1.1, 203.0.113.10'))).status).to.equal(429);
    expect((await get('/', from('203.0.113.11'))).status).to.equal(200);
  });

  it('counts IPv6 clients per /64', async () => {
    for (let i = 1; i <= 3; i++) await (await get('/', from(`2001:db8:1:2::${i}`))).arrayBuffer();
    expect((await get('/', from('2001:db8:1:2:ffff::9'))).status).to.equal(429);
    expect((await get('/', from('2001:db8:1:3::1'))).status).to.equal(200);
  });

  it('lets a client through again once the block has run out', async () => {
    for (let i = 0; i < 4; i++) await (await get('/', from('203.0.113.12'))).arrayBuffer();
    expect((await get('/', from('203.0.113.12'))).status).to.equal(429);
    nowMs += 15 * 60_000 + 1;
    expect((await get('/', from('203.0.113.12'))).status).to.equal(200);
  });
});

describe('client identity from an untrusted peer', () => {
  it('ignores X-Forwarded-For when the peer is not a trusted proxy', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway(`
upstream: { url: "${upstream.url}" }
client_ip: { trusted_proxies: [192.0.2.1] }
throttle: { limit: 2, rules: [] }
`);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(gw.url + '/', {
          headers: { 'x-forwarded-for': `198.51.100.${i}` },
        });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      // All three come from 127.0.0.1, whatever they claim.
      expect(statuses).to.deep.equal([200, 200, 429]);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});
