import { expect } from 'chai';
import { captureLog, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startSiteverify, type SiteverifyServer } from '../helpers/siteverify-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const CSRF_RE = /name=['|"]csrfmiddlewaretoken['|"] value=['|"](\w+)/;
const XHR = { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' };

/** Headers of one request as the gateway's trusted proxy forwards it for `ip`. */
const from = (ip: string, cookie?: string): Record<string, string> => ({
  'x-forwarded-for': ip,
  ...(cookie ? { cookie } : {}),
});

describe('clearance: a passed captcha buys the solver a budget of its own', () => {
  let upstream: Upstream;
  let siteverify: SiteverifyServer;
  let gw: RunningGateway;
  let clock: { now: number };

  before(async () => {
    upstream = await startUpstream();
    siteverify = await startSiteverify();
  });
  after(async () => {
    await upstream.close();
    await siteverify.close();
  });
  afterEach(async () => {
    await gw?.stop();
  });

  /** A gateway with a limit of 2, a login rule, and 203.0.113.0/24 declared shared. */
  async function start(extra = '', logTo?: ReturnType<typeof captureLog>): Promise<void> {
    clock = { now: 1_800_000_000_000 };
    gw = await startGateway(
      `
upstream: { url: "${upstream.url}" }
throttle:
  limit: 2
  window: 60s
  rules: []
  shared:
    - name: nat
      addresses: [203.0.113.0/24]
      budgets:
        - { name: login, path: /users/login/, methods: [POST], limit: 1, window: 60s }
captcha: { site_key: key_1, secret: s, verify_url: "${siteverify.url}" }
csrf: { secret: a-csrf-secret-that-is-long-enough-32 }
${extra}`,
      { now: () => clock.now, ...(logTo ? { logTo } : {}) },
    );
  }

  const get = (path: string, headers: Record<string, string>) =>
    fetch(gw.url + path, { headers, redirect: 'manual' });

  async function statuses(n: number, path: string, headers: Record<string, string>) {
    const seen: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await get(path, headers);
      await res.arrayBuffer();
      seen.push(res.status);
    }
    return seen;
  }

  /** Solves the captcha as the storefront's relay does; returns the answer. */
  async function solve(headers: Record<string, string>, extra: Record<string, string> = XHR) {
    const form = await get('/users/pz-captcha/', { ...headers, accept: 'application/json' });
    const { html } = (await form.json()) as { html: string };
    const token = CSRF_RE.exec(html)![1]!;
    const cookie = [headers.cookie, `csrftoken=${token}`].filter(Boolean).join('; ');
    return fetch(gw.url + '/users/pz-captcha/', {
      method: 'POST',
      headers: {
        ...headers,
        ...extra,
        cookie,
        'x-csrftoken': token,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'g-recaptcha-response=pass-1',
      redirect: 'manual',
    });
  }

  /** `name=value` of the clearance a passing answer granted. */
  function clearanceOf(res: Response): string {
    const cookies = res.headers.getSetCookie();
    expect(cookies).to.have.length(1);
    return cookies[0]!.split(';')[0]!;
  }

  it('grants exactly one Set-Cookie: the clearance, Path=/, Max-Age, HttpOnly, never Expires', async () => {
    await start();
    const xhr = await solve(from('198.51.100.1'));
    expect(xhr.status).to.equal(200);
    const [cookie] = xhr.headers.getSetCookie();
    expect(cookie).to.match(
      /^cgw_clearance=[0-9a-f]{32}\.[0-9a-z]+\.[A-Za-z0-9_-]{43}; Path=\/; Max-Age=1800; HttpOnly; SameSite=Lax$/,
    );
    expect(cookie).not.to.match(/expires/i);
    // One Set-Cookie means a relay that joins them with ", " cannot merge two into one.
    expect(xhr.headers.get('set-cookie')).to.equal(cookie);

    const browser = await solve(from('198.51.100.2'), { accept: 'text/html' });
    expect(browser.status).to.equal(302);
    expect(browser.headers.getSetCookie()).to.have.length(1);
  });

  it('counts a request with a clearance under the clearance, not under the address it shares', async () => {
    await start();
    const nat = '203.0.113.9';
    // A bot behind the shared address burns the address's own budget.
    expect(await statuses(3, '/x', from(nat))).to.deep.equal([200, 200, 429]);
    const clearance = clearanceOf(await solve(from(nat)));
    // The shopper browses on its clearance; the bot beside it stays refused.
    expect(await statuses(2, '/x', from(nat, clearance))).to.deep.equal([200, 200]);
    expect(await statuses(1, '/x', from(nat))).to.deep.equal([429]);
    // Its own budget, its own throttle: the third request within the window is one too many.
    expect(await statuses(1, '/x', from(nat, clearance))).to.deep.equal([429]);
  });

  it("never lifts a shared address's budget when a captcha is passed from it", async () => {
    await start();
    const nat = '203.0.113.10';
    await statuses(3, '/x', from(nat));
    expect((await solve(from(nat))).status).to.equal(200);
    expect(await statuses(1, '/x', from(nat))).to.deep.equal([429]);
  });

  it("lifts the solver's own address, as before, and grants it a clearance too", async () => {
    await start();
    const ip = '198.51.100.3';
    expect(await statuses(3, '/x', from(ip))).to.deep.equal([200, 200, 429]);
    const solved = await solve(from(ip));
    clearanceOf(solved);
    expect(await statuses(1, '/x', from(ip))).to.deep.equal([200]);
  });

  it('never frees another client: passing the captcha lifts only the one who solved', async () => {
    await start();
    await statuses(3, '/x', from('198.51.100.4'));
    await statuses(3, '/x', from('198.51.100.5'));
    await solve(from('198.51.100.4'));
    expect(await statuses(1, '/x', from('198.51.100.5'))).to.deep.equal([429]);
  });

  it('counts forged, expired and malformed clearances as no clearance', async () => {
    await start();
    const nat = '203.0.113.11';
    await statuses(3, '/x', from(nat));
    const clearance = clearanceOf(await solve(from(nat)));
    const [name, value] = clearance.split('=') as [string, string];
    const [id, expiry, mac] = value.split('.') as [string, string, string];
    const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    for (const bad of [
      `${name}=${id}.${expiry}.${flipped}`,
      `${name}=${'0'.repeat(32)}.${expiry}.${mac}`,
      `${name}=${id}.${(parseInt(expiry, 36) + 99).toString(36)}.${mac}`,
      `${name}=garbage`,
      `${name}=${value}x`,
    ]) {
      expect(await statuses(1, '/x', from(nat, bad)), bad).to.deep.equal([429]);
    }
    expect(await statuses(1, '/x', from(nat, `a=1; ${clearance}; b=2`))).to.deep.equal([200]);
    clock.now += 30 * 60_000 + 1000;
    // The address's block has run out by now: throttle it again, then try the expired clearance.
    expect(await statuses(3, '/x', from(nat))).to.deep.equal([200, 200, 429]);
    expect(await statuses(1, '/x', from(nat, clearance)), 'expired').to.deep.equal([429]);
  });

  it('sends a throttled clearance to the captcha; passing again buys a fresh budget', async () => {
    await start();
    const nat = '203.0.113.12';
    await statuses(3, '/x', from(nat));
    const first = clearanceOf(await solve(from(nat)));
    expect(await statuses(3, '/x', from(nat, first))).to.deep.equal([200, 200, 429]);
    const again = await solve(from(nat, first));
    expect(again.status).to.equal(200);
    const second = clearanceOf(again);
    expect(second).not.to.equal(first);
    expect(await statuses(2, '/x', from(nat, second))).to.deep.equal([200, 200]);
  });

  it('counts the shared address own traffic in the first matching budget, each with its own throttle', async () => {
    await start();
    const nat = '203.0.113.13';
    const login = () =>
      fetch(gw.url + '/users/login/', { method: 'POST', headers: from(nat), body: '{}' });
    expect((await login()).status).to.equal(200);
    expect((await login()).status).to.equal(429);
    // The login budget is burnt; other paths go on in the group's default budget.
    expect(await statuses(2, '/x', from(nat))).to.deep.equal([200, 200]);
  });

  it('marks the clearance Secure when a trusted proxy says the request came over https', async () => {
    await start();
    const https = await solve({ ...from('198.51.100.6'), 'x-forwarded-proto': 'https' });
    expect(https.headers.get('set-cookie')).to.match(/; Secure$/);
    const http = await solve(from('198.51.100.7'));
    expect(http.headers.get('set-cookie')).not.to.match(/Secure/);
  });

  it('marks the clearance Secure on every answer with clearance.secure: always', async () => {
    await start('clearance: { secure: always }');
    const res = await solve(from('198.51.100.10'));
    expect(res.headers.get('set-cookie')).to.match(/; Secure$/);
  });

  it('takes a form issued to the address from a request that has a clearance since', async () => {
    await start();
    const nat = '198.51.100.11';
    const form = await get('/users/pz-captcha/', { ...from(nat), accept: 'application/json' });
    const token = CSRF_RE.exec(((await form.json()) as { html: string }).html)![1]!;
    const clearance = clearanceOf(await solve(from(nat)));
    const post = (headers: Record<string, string>) =>
      fetch(gw.url + '/users/pz-captcha/', {
        method: 'POST',
        headers: {
          ...headers,
          ...XHR,
          'x-csrftoken': token,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'g-recaptcha-response=pass-2',
      });
    expect((await post(from(nat, `${clearance}; csrftoken=${token}`))).status).to.equal(200);
    // Never the other way round, and never for another address.
    expect((await post(from('198.51.100.12', `${clearance}`))).status).to.equal(403);
  });

  it('writes the configured name, lifetime and domain', async () => {
    await start('clearance: { cookie: pass, ttl: 15m, domain: shop.example }');
    const res = await solve(from('198.51.100.8'));
    expect(res.headers.get('set-cookie')).to.match(
      /^pass=\S+; Path=\/; Max-Age=900; Domain=shop.example; HttpOnly; SameSite=Lax$/,
    );
  });

  it('grants nothing when clearance is off', async () => {
    await start('clearance: { enabled: false }');
    const res = await solve(from('198.51.100.9'));
    expect(res.status).to.equal(200);
    expect(res.headers.getSetCookie()).to.deep.equal([]);
  });

  it('never adds a Set-Cookie to a proxied upstream response', async () => {
    await start();
    const nat = '203.0.113.14';
    const clearance = clearanceOf(await solve(from(nat)));
    const res = await get('/x', from(nat, clearance));
    expect(res.status).to.equal(200);
    expect(res.headers.getSetCookie()).to.deep.equal([]);
  });

  it('logs the counting key and the clearance id, never the cookie value', async () => {
    const log = captureLog();
    await start('log: { level: info }', log);
    const nat = '203.0.113.15';
    const clearance = clearanceOf(await solve(from(nat)));
    const value = clearance.split('=')[1]!;
    const id = value.split('.')[0]!;
    await (await get('/x', from(nat, clearance))).arrayBuffer();
    const text = JSON.stringify(log.lines);
    expect(text).not.to.include(value.split('.')[2]!);
    expect(log.lines.some((l) => l.event === 'clearance_granted' && l.clearance === id)).to.equal(
      true,
    );
    expect(log.lines.some((l) => l.event === 'request' && l.client === `clearance:${id}`)).to.equal(
      true,
    );
  });

  it('counts clearances granted and requests counted per clearance in /metrics', async () => {
    await start();
    const nat = '203.0.113.16';
    const clearance = clearanceOf(await solve(from(nat)));
    await statuses(2, '/x', from(nat, clearance));
    const metrics = await (await fetch(gw.adminUrl + '/metrics')).text();
    expect(metrics).to.match(/^gateway_clearances_granted_total 1$/m);
    expect(metrics).to.match(/^gateway_clearance_requests_total 2$/m);
  });

  it('lets the admin look a clearance up, revoke it and lift it', async () => {
    await start('admin: { token: an-admin-token-of-thirty-two-chars-x }');
    const auth = { authorization: 'Bearer an-admin-token-of-thirty-two-chars-x' };
    const nat = '203.0.113.17';
    const clearance = clearanceOf(await solve(from(nat)));
    const id = clearance.split('=')[1]!.split('.')[0]!;
    const url = `${gw.adminUrl}/admin/clearances/${id}`;
    expect(await (await fetch(url, { headers: auth })).json()).to.deep.equal({
      client: `clearance:${id}`,
      throttled: false,
      throttled_until: null,
    });
    expect((await fetch(url + '/throttle', { method: 'PUT', headers: auth })).status).to.equal(204);
    expect(await statuses(1, '/x', from(nat, clearance))).to.deep.equal([429]);
    const looked = (await (await fetch(url, { headers: auth })).json()) as { throttled: boolean };
    expect(looked.throttled).to.equal(true);
    expect((await fetch(url + '/throttle', { method: 'DELETE', headers: auth })).status).to.equal(
      204,
    );
    expect(await statuses(1, '/x', from(nat, clearance))).to.deep.equal([200]);
    const bad = await fetch(`${gw.adminUrl}/admin/clearances/not-an-id`, { headers: auth });
    expect(bad.status).to.equal(400);
  });
});
