import { expect } from 'chai';
import { parseConfig } from '../../gateway/config/load.js';
import { createGateway, type Gateway } from '../../gateway/server.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { startSiteverify, type SiteverifyServer } from '../helpers/siteverify-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const SECRETS = {
  captcha: 'CAPTCHA-SECRET-7f3a',
  csrf: 'CSRF-SECRET-91bc',
  admin: 'ADMIN-TOKEN-4d2e',
  cookie: 'SESSION-COOKIE-c0ff',
  response: 'pass-CAPTCHA-RESPONSE-e11a',
};

describe('request logs', () => {
  let upstream: Upstream;
  let siteverify: SiteverifyServer;
  let gateway: Gateway;
  let captured: CapturedLog;
  let url: string;
  let adminUrl: string;

  before(async () => {
    upstream = await startUpstream();
    siteverify = await startSiteverify();
    const result = parseConfig(
      `
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "${SECRETS.admin}" }
upstream: { url: "${upstream.url}" }
throttle: { limit: 2, rules: [] }
captcha: { secret: "${SECRETS.captcha}", site_key: sitekey, verify_url: "${siteverify.url}" }
csrf: { secret: "${SECRETS.csrf}" }
`,
      {},
    );
    if (!result.ok) throw new Error(result.problems.join('\n'));
    captured = captureLog('info');
    gateway = createGateway({ config: result.config, log: captured.log });
    const ports = await gateway.listen();
    url = `http://127.0.0.1:${ports.publicPort}`;
    adminUrl = `http://127.0.0.1:${ports.adminPort}`;
  });
  after(async () => {
    await gateway.shutdown();
    await upstream.close();
    await siteverify.close();
  });

  it('writes one JSON line per request with its fields, and passes X-Request-Id on both ways', async () => {
    const res = await fetch(url + '/products/?q=secret-search', {
      headers: { 'x-request-id': 'req-abc-123', 'x-forwarded-for': '203.0.113.60' },
    });
    await res.arrayBuffer();
    expect(res.headers.get('x-request-id')).to.equal('req-abc-123');
    const seen = await upstream.waitForRequest((r) => r.url.startsWith('/products/'));
    expect(seen.headers['x-request-id']).to.equal('req-abc-123');

    const [line] = captured.events('request').filter((e) => e.request_id === 'req-abc-123');
    expect(line).to.include({
      client: '203.0.113.60',
      method: 'GET',
      path: '/products/',
      status: 200,
      outcome: 'proxied',
    });
    expect(line?.time).to.be.a('string');
    expect(line?.duration_ms).to.be.a('number');
    expect(line?.upstream_ms).to.be.a('number');
  });

  it('answers every kind of request with its X-Request-Id', async () => {
    const ask = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(url + path, init);
      await res.arrayBuffer();
      return [res.status, res.headers.get('x-request-id')];
    };
    const id = (value: string) => ({ 'x-request-id': value, 'x-forwarded-for': '203.0.113.62' });
    expect(await ask('/static/a.js', { headers: id('rid-exempt') })).to.deep.equal([
      200,
      'rid-exempt',
    ]);
    expect(await ask('/users/captcha/', { headers: id('rid-page') })).to.deep.equal([
      200,
      'rid-page',
    ]);
    const html = { ...id('rid-html'), accept: 'text/html' };
    expect(await ask('/users/captcha/', { headers: html })).to.deep.equal([200, 'rid-html']);
    const post = { method: 'POST', headers: { ...id('rid-post'), 'content-type': 'text/plain' } };
    expect(await ask('/users/captcha/', post)).to.deep.equal([415, 'rid-post']);
    for (const n of [1, 2]) await ask('/api/', { headers: id(`rid-${n}`) });
    expect(await ask('/api/', { headers: id('rid-429') })).to.deep.equal([429, 'rid-429']);
  });

  it('generates a request id when the client sends none, or an unsafe one', async () => {
    for (const given of [undefined, 'bad id with spaces; and more']) {
      const headers: Record<string, string> = given ? { 'x-request-id': given } : {};
      const res = await fetch(url + '/static/app.js', { headers });
      await res.arrayBuffer();
      expect(res.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    }
  });

  it('never logs the captcha secret, CSRF secret, admin token, cookies, CSRF tokens or captcha responses', async () => {
    const ip = '203.0.113.61';
    const headers = { 'x-forwarded-for': ip, cookie: `session=${SECRETS.cookie}` };
    for (let i = 0; i < 3; i++) await (await fetch(url + '/api/', { headers })).arrayBuffer();
    const page = await fetch(url + '/users/captcha/', { headers });
    const token = /value='(\w+)'/.exec(((await page.json()) as { html: string }).html)![1]!;
    const passed = await fetch(url + '/users/captcha/', {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/x-www-form-urlencoded',
        'x-csrftoken': token,
        cookie: `csrftoken=${token}; session=${SECRETS.cookie}`,
      },
      body: new URLSearchParams({ 'g-recaptcha-response': SECRETS.response }).toString(),
      redirect: 'manual',
    });
    expect(passed.status).to.equal(302);
    await (
      await fetch(adminUrl + '/admin/throttled', {
        headers: { authorization: `Bearer ${SECRETS.admin}` },
      })
    ).arrayBuffer();
    siteverify.answer(() => ({ status: 500, raw: `oops ${SECRETS.captcha}` }));
    await (
      await fetch(url + '/users/captcha/', {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/x-www-form-urlencoded',
          'x-csrftoken': token,
        },
        body: new URLSearchParams({ 'g-recaptcha-response': SECRETS.response }).toString(),
      })
    ).arrayBuffer();
    siteverify.answer();

    const everything = captured.raw.join('');
    expect(captured.events('request').length).to.be.greaterThan(4);
    for (const secret of [...Object.values(SECRETS), token])
      expect(everything).to.not.include(secret);
    expect(everything).to.not.include('secret-search');
  });
});
