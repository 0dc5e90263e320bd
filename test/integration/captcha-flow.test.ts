import { expect } from 'chai';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startSiteverify, type SiteverifyServer } from '../helpers/siteverify-server.js';
import { startUpstream } from '../helpers/upstream.js';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;

// The storefront's own regular expressions (@akinon/next data/client/user.ts, getCaptcha).
const SITE_KEY_RE = /sitekey=["|']\w+/gi;
const CSRF_RE = /name=['|"]csrfmiddlewaretoken['|"] value=['|"]\w+/gi;
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('throttle → captcha → pass, through a real gateway', () => {
  let upstream: Upstream;
  let siteverify: SiteverifyServer;
  let gw: RunningGateway;

  before(async () => {
    upstream = await startUpstream();
    siteverify = await startSiteverify();
  });
  after(async () => {
    await upstream.close();
    await siteverify.close();
  });
  beforeEach(async () => {
    siteverify.answer();
    siteverify.calls.length = 0;
    gw = await startGateway(`
upstream: { url: "${upstream.url}" }
throttle: { limit: 2, window: 60s, rules: [] }
captcha: { site_key: 6LcSiteKey_1, secret: the-secret, verify_url: "${siteverify.url}" }
csrf: { secret: csrf-secret }
`);
  });
  afterEach(async () => {
    await gw.stop();
  });

  async function throttle(ip: string): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await (await fetch(gw.url + '/api/', { headers: { 'x-forwarded-for': ip } })).arrayBuffer();
    }
    const res = await fetch(gw.url + '/api/', { headers: { 'x-forwarded-for': ip } });
    expect(res.status).to.equal(429);
  }

  it('lets the storefront read the form with its regexes, pass, and get 200 {"location": "/"}', async () => {
    const ip = '203.0.113.20';
    await throttle(ip);
    const page = await fetch(gw.url + '/users/pz-captcha/', {
      headers: { 'x-forwarded-for': ip, accept: 'application/json', 'accept-language': 'tr' },
    });
    expect(page.status).to.equal(200);
    const { html } = (await page.json()) as { html: string };
    const siteKey = html.match(SITE_KEY_RE)?.[0]?.replace(/sitekey=["|']/i, '');
    const token = html.match(CSRF_RE)?.[0]?.replace(/^.*value=['|"]/i, '');
    expect(siteKey).to.equal('6LcSiteKey_1');
    expect(token).to.match(/^[A-Za-z0-9]+$/);
    expect(page.headers.get('set-cookie')).to.include(`csrftoken=${token}`);

    // The storefront's server-side relay: form-encoded body with only the captcha response,
    // the token in x-csrftoken and the cookie, XHR, JSON.
    const verified = await fetch(gw.url + '/users/pz-captcha/', {
      method: 'POST',
      headers: {
        'x-forwarded-for': ip,
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrftoken': token!,
        cookie: `csrftoken=${token}`,
        'x-requested-with': 'XMLHttpRequest',
        accept: 'application/json',
        'accept-language': 'tr',
      },
      body: new URLSearchParams({ 'g-recaptcha-response': 'pass-1' }).toString(),
      redirect: 'manual',
    });
    expect(verified.status).to.equal(200);
    expect(await verified.json()).to.deep.equal({ location: '/' });
    expect(siteverify.calls).to.deep.equal([
      { secret: 'the-secret', response: 'pass-1', remoteip: ip },
    ]);

    const after = await fetch(gw.url + '/api/', { headers: { 'x-forwarded-for': ip } });
    expect(after.status).to.equal(200);
  });

  it('sends a browser back to the page it wanted after the form posts', async () => {
    const ip = '203.0.113.21';
    await throttle(ip);
    const nav = await fetch(gw.url + '/products/7/?size=42', {
      headers: { 'x-forwarded-for': ip, accept: HTML },
      redirect: 'manual',
    });
    expect(nav.status).to.equal(302);
    const location = nav.headers.get('location')!;
    const page = await fetch(gw.url + location, {
      headers: { 'x-forwarded-for': ip, accept: HTML },
    });
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    const html = await page.text();
    const token = /name='csrfmiddlewaretoken' value='(\w+)'/.exec(html)?.[1];
    const next = /name='next' value='([^']*)'/.exec(html)?.[1];
    expect(next).to.equal('/products/7/?size=42');
    const posted = await fetch(gw.url + location, {
      method: 'POST',
      headers: {
        'x-forwarded-for': ip,
        accept: HTML,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        csrfmiddlewaretoken: token!,
        'g-recaptcha-response': 'pass-2',
        next: next!,
      }).toString(),
      redirect: 'manual',
    });
    expect(posted.status).to.equal(302);
    expect(posted.headers.get('location')).to.equal('/products/7/?size=42');
    const back = await fetch(gw.url + '/products/7/?size=42', {
      headers: { 'x-forwarded-for': ip, accept: HTML },
    });
    expect(back.status).to.equal(200);
  });

  for (const evil of [
    '//evil.example/',
    '/\\evil.example/',
    'https://evil.example/',
    'javascript:alert(1)',
  ]) {
    it(`rejects next=${evil} as an open redirect and sends the client to /`, async () => {
      const ip = '203.0.113.22';
      const page = await fetch(gw.url + '/users/captcha/', { headers: { 'x-forwarded-for': ip } });
      const { html } = (await page.json()) as { html: string };
      const token = /value='(\w+)'/.exec(html)![1]!;
      const res = await fetch(gw.url + '/users/captcha/', {
        method: 'POST',
        headers: { 'x-forwarded-for': ip, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          csrfmiddlewaretoken: token,
          'g-recaptcha-response': 'pass',
          next: evil,
        }).toString(),
        redirect: 'manual',
      });
      expect(res.status).to.equal(302);
      expect(res.headers.get('location')).to.equal('/');
    });
  }

  it('refuses a CSRF token issued to another client, without calling siteverify', async () => {
    const page = await fetch(gw.url + '/users/captcha/', {
      headers: { 'x-forwarded-for': '203.0.113.23' },
    });
    const token = /value='(\w+)'/.exec(((await page.json()) as { html: string }).html)![1]!;
    const res = await fetch(gw.url + '/users/captcha/', {
      method: 'POST',
      headers: {
        'x-forwarded-for': '203.0.113.24',
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrftoken': token,
      },
      body: 'g-recaptcha-response=pass',
    });
    expect(res.status).to.equal(403);
    expect(await res.json()).to.deep.equal({ detail: 'CSRF verification failed.' });
    expect(siteverify.calls).to.have.length(0);
  });

  it('keeps the client throttled when siteverify is down (503)', async () => {
    const ip = '203.0.113.25';
    await throttle(ip);
    siteverify.answer(() => ({ status: 502, raw: 'bad gateway' }));
    const page = await fetch(gw.url + '/users/captcha/', { headers: { 'x-forwarded-for': ip } });
    const token = /value='(\w+)'/.exec(((await page.json()) as { html: string }).html)![1]!;
    const res = await fetch(gw.url + '/users/captcha/', {
      method: 'POST',
      headers: {
        'x-forwarded-for': ip,
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrftoken': token,
      },
      body: 'g-recaptcha-response=pass',
    });
    expect(res.status).to.equal(503);
    expect((await fetch(gw.url + '/api/', { headers: { 'x-forwarded-for': ip } })).status).to.equal(
      429,
    );
  });

  it('escapes a reflected next so it cannot inject markup', async () => {
    const res = await fetch(
      gw.url + '/users/captcha/?next=' + encodeURIComponent("/x'><script>alert(1)</script>"),
      {
        headers: { 'x-forwarded-for': '203.0.113.26', accept: HTML },
      },
    );
    const html = await res.text();
    expect(html).to.not.include('<script>alert(1)</script>');
  });
});
