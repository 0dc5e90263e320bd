// Checks the captcha endpoints of CONTRACT §6 over real sockets: the Koa app behind a plain HTTP
// server that attaches the Exchange as the gateway does, a real MemoryStore, a real siteverify.
import { expect } from 'chai';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { createCaptchaApp } from '../../../gateway/captcha/app.js';
import { ipKey } from '../../../gateway/client-ip/ip-key.js';
import { createCsrfTokens } from '../../../gateway/csrf/tokens.js';
import { attachExchange, type Exchange } from '../../../gateway/http/exchange.js';
import { MemoryStore } from '../../../gateway/limiter/memory-store.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics, type Metrics } from '../../../gateway/metrics.js';
import { startSiteverify, type SiteverifyServer } from '../../helpers/siteverify-server.js';
import { configFrom } from './fixtures.js';

// The storefront's own regular expressions (@akinon/next data/client/user.ts, getCaptcha).
const SITE_KEY_RE = /sitekey=["|']\w+/gi;
const CSRF_RE = /name=['|"]csrfmiddlewaretoken['|"] value=['|"]\w+/gi;
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const FORM = 'application/x-www-form-urlencoded';
const PATH = '/users/pz-captcha/';
const MAX_BODY = 1024;
const ATTEMPTS = 5;
const CSRF_SECRET = 'csrf-secret-for-tests';
const CAPTCHA_SECRET = 'captcha-secret-for-tests';

interface Harness {
  readonly url: string;
  readonly store: MemoryStore;
  readonly metrics: Metrics;
  readonly clock: { now: number };
  /** Every exchange the server attached, newest last. */
  readonly exchanges: Exchange[];
  /** Every log line the app wrote (level debug and up). */
  readonly logs: string[];
  close(): Promise<void>;
}

interface HarnessOptions {
  hostnames?: string[];
  minScore?: number;
  store?: MemoryStore;
}

let siteverify: SiteverifyServer;

async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const config = configFrom(`
captcha:
  site_key: 6LcSiteKey_1
  secret: ${CAPTCHA_SECRET}
  verify_url: "${siteverify.url}"
  verify_timeout: 300ms
  max_body: ${MAX_BODY}
  attempts: { limit: ${ATTEMPTS}, window: 60s }
  hostnames: ${JSON.stringify(options.hostnames ?? [])}
  min_score: ${options.minScore ?? 0}
csrf: { secret: ${CSRF_SECRET}, ttl: 10m }
`);
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const store = options.store ?? new MemoryStore({ maxClients: 1000 });
  const metrics = createMetrics({ processMetrics: false });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = createLogger('debug', sink);
  const csrf = createCsrfTokens({
    key: Buffer.from(config.csrf.secret),
    ttlMs: config.csrf.ttl,
    now,
  });
  const handle = createCaptchaApp({
    config,
    store,
    metrics,
    csrf,
    now,
    log,
    isHttps: () => false,
  }).callback();
  const exchanges: Exchange[] = [];

  // Stands in for the gateway's server: the client is whoever x-test-client names.
  const server: Server = createServer((req, res) => {
    if (req.headers['x-test-no-exchange'] === undefined) {
      const text = String(req.headers['x-test-client'] ?? '203.0.113.7');
      const address = ipaddr.parse(text);
      const key = ipKey(address, 64);
      exchanges.push(
        attachExchange(req, {
          client: { address, text, key },
          key,
          holder: 'address',
          requestId: 'test-request',
          startMs: 0,
          upstreamMs: 0,
          outcome: 'captcha_page',
        }),
      );
    }
    void handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    metrics,
    clock,
    exchanges,
    logs,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('captcha app (CONTRACT §6)', () => {
  let h: Harness;

  before(async () => {
    siteverify = await startSiteverify();
  });
  after(() => siteverify.close());
  beforeEach(async () => {
    siteverify.answer();
    siteverify.calls.length = 0;
    h = await startHarness();
  });
  afterEach(() => h.close());

  const lastOutcome = () => h.exchanges.at(-1)?.outcome;

  function get(headers: Record<string, string> = {}, path = PATH): Promise<Response> {
    return fetch(h.url + path, { headers, redirect: 'manual' });
  }

  async function tokenFor(client = '203.0.113.7'): Promise<string> {
    const res = await get({ accept: 'application/json', 'x-test-client': client });
    const { html } = (await res.json()) as { html: string };
    const token = html.match(CSRF_RE)?.[0]?.replace(/^.*value=['|"]/i, '');
    if (token === undefined) throw new Error('no token in the form');
    return token;
  }

  function post(
    body: string | FormData,
    headers: Record<string, string> = {},
    path = PATH,
  ): Promise<Response> {
    // FormData sets its own multipart type with the boundary.
    const contentType: Record<string, string> =
      typeof body === 'string' ? { 'content-type': FORM } : {};
    return fetch(h.url + path, {
      method: 'POST',
      headers: { ...contentType, ...headers },
      body,
      redirect: 'manual',
    });
  }

  /** A form body with a fresh token for `client` in `csrfmiddlewaretoken`. */
  async function formFor(fields: Record<string, string>, client = '203.0.113.7') {
    return new URLSearchParams({
      csrfmiddlewaretoken: await tokenFor(client),
      ...fields,
    }).toString();
  }

  /** Sends a raw request and resolves with the status once the response head arrives. */
  function rawPost(
    headers: Record<string, string | number>,
    write: (req: ReturnType<typeof request>) => void,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(h.url + PATH, { method: 'POST', headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      // The server may close while we are still sending; the response is what counts.
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      write(req);
    });
  }

  describe('GET', () => {
    it('answers JSON {"html": …} by default, in the default language', async () => {
      const res = await get();
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      const { html } = (await res.json()) as { html: string };
      expect(html).to.match(
        /^<h1 class="auth__form__title">\n {2}Devam etmek için insan olduğunuzu doğrulayın\n<\/h1>/,
      );
      expect(lastOutcome()).to.equal('captcha_page');
    });

    for (const accept of [
      'application/json',
      '*/*',
      'application/json, text/html',
      'text/html;q=0.5, application/json',
    ]) {
      it(`answers JSON for Accept: ${accept}`, async () => {
        const res = await get({ accept });
        expect(res.headers.get('content-type')).to.match(/^application\/json/);
        expect(await res.json()).to.have.property('html');
      });
    }

    it('gives the storefront a site key and token its regexes can read, and the same token as cookie', async () => {
      const res = await get({ accept: 'application/json' });
      const { html } = (await res.json()) as { html: string };
      const siteKey = html.match(SITE_KEY_RE)?.[0]?.replace(/sitekey=["|']/i, '');
      const token = html.match(CSRF_RE)?.[0]?.replace(/^.*value=['|"]/i, '');
      expect(siteKey).to.equal('6LcSiteKey_1');
      expect(token).to.match(/^[A-Za-z0-9]{20,}$/);
      expect(res.headers.get('set-cookie')).to.equal(`csrftoken=${token}; Path=/; SameSite=Lax`);
    });

    it('answers a browser with a complete HTML page under a strict CSP', async () => {
      const res = await get({ accept: BROWSER_ACCEPT });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
      expect(res.headers.get('x-frame-options')).to.equal('DENY');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).to.include("default-src 'none'");
      expect(csp).to.include(
        'script-src https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/',
      );
      expect(csp).to.include("frame-ancestors 'none'");
      expect(csp).to.not.include('unsafe');
      const html = await res.text();
      expect(html).to.match(/^<!doctype html>\n<html lang="tr">/);
      const token = /name='csrfmiddlewaretoken' value='(\w+)'/.exec(html)?.[1];
      expect(res.headers.get('set-cookie')).to.equal(`csrftoken=${token}; Path=/; SameSite=Lax`);
    });

    it('sends no-store and Vary: Accept, Accept-Language on both JSON and HTML', async () => {
      for (const accept of ['application/json', BROWSER_ACCEPT]) {
        const res = await get({ accept });
        expect(res.headers.get('cache-control')).to.equal('no-store');
        expect(res.headers.get('vary')).to.equal('Accept, Accept-Language');
      }
    });

    const TR_HEADING = 'Devam etmek için insan olduğunuzu doğrulayın';
    const EN_HEADING = 'Confirm you are human to continue';
    const languages: [string, string][] = [
      ['tr', TR_HEADING],
      ['tr-TR,tr;q=0.9,en;q=0.8', TR_HEADING],
      ['en', EN_HEADING],
      ['en-US,en;q=0.9', EN_HEADING],
      ['de-DE, en;q=0.7, tr;q=0.5', EN_HEADING],
      ['tr;q=0.4, en;q=0.6', EN_HEADING],
      ['de, fr', TR_HEADING],
      ['en;q=0, tr;q=0.1', TR_HEADING],
    ];
    for (const [acceptLanguage, title] of languages) {
      it(`shows "${title}" for Accept-Language: ${acceptLanguage}`, async () => {
        const res = await get({ 'accept-language': acceptLanguage });
        const { html } = (await res.json()) as { html: string };
        expect(html).to.include(`\n  ${title}\n`);
      });
    }

    it('carries a valid next query parameter in the form', async () => {
      const res = await get({}, `${PATH}?next=${encodeURIComponent('/products/7/?size=42')}`);
      const { html } = (await res.json()) as { html: string };
      expect(html).to.include("<input type='hidden' name='next' value='/products/7/?size=42' />");
    });

    it('drops a next of //evil.com instead of carrying an open redirect', async () => {
      const res = await get({}, `${PATH}?next=${encodeURIComponent('//evil.com')}`);
      const { html } = (await res.json()) as { html: string };
      expect(html).to.not.include("name='next'");
    });

    it('escapes a reflected next on the HTML page', async () => {
      const next = encodeURIComponent("/x'><script>alert(1)</script>");
      const res = await get({ accept: BROWSER_ACCEPT }, `${PATH}?next=${next}`);
      const html = await res.text();
      expect(html).to.not.include('<script>alert(1)');
      expect(html).to.include("value='/x&#39;&gt;&lt;script&gt;");
    });

    it('answers HEAD with the headers and no body', async () => {
      const res = await fetch(h.url + PATH, { method: 'HEAD' });
      expect(res.status).to.equal(200);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.headers.get('set-cookie')).to.match(/^csrftoken=\w+; Path=\/; SameSite=Lax$/);
      expect(await res.text()).to.equal('');
    });

    it('answers whatever spelling of the path the server hands it (no routing on ctx.path)', async () => {
      const res = await get({}, '/USERS//pz-captcha/./');
      expect(res.status).to.equal(200);
      expect(await res.json()).to.have.property('html');
    });
  });

  describe('other methods', () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      it(`answers ${method} with 405 and Allow: GET, HEAD, POST`, async () => {
        const res = await fetch(h.url + PATH, { method });
        expect(res.status).to.equal(405);
        expect(res.headers.get('allow')).to.equal('GET, HEAD, POST');
        expect(res.headers.get('cache-control')).to.equal('no-store');
        expect(await res.json()).to.have.property('detail');
      });
    }
  });

  describe('POST', () => {
    it('lets the storefront pass exactly as it calls: header token, form body, XHR → 200 {"location": "/"}', async () => {
      const page = await get({ accept: 'application/json', 'accept-language': 'tr' });
      const { html } = (await page.json()) as { html: string };
      const token = html.match(CSRF_RE)![0]!.replace(/^.*value=['|"]/i, '');
      const res = await post(new URLSearchParams({ 'g-recaptcha-response': 'pass-1' }).toString(), {
        'x-csrftoken': token,
        cookie: `csrftoken=${token}`,
        'X-Requested-With': 'XMLHttpRequest',
        accept: 'application/json',
        'accept-language': 'tr',
      });
      expect(res.status).to.equal(200);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(await res.json()).to.deep.equal({ location: '/' });
      expect(siteverify.calls).to.deep.equal([
        { secret: CAPTCHA_SECRET, response: 'pass-1', remoteip: '203.0.113.7' },
      ]);
      expect(lastOutcome()).to.equal('captcha_passed');
    });

    it('lifts the throttle and resets the counters of a client that passes', async () => {
      const key = '203.0.113.7';
      await h.store.throttle(key, h.clock.now + 15 * 60_000);
      expect(await h.store.throttledUntil(key, h.clock.now)).to.be.above(0);
      const res = await post(await formFor({ 'g-recaptcha-response': 'pass' }));
      expect(res.status).to.equal(302);
      expect(await h.store.throttledUntil(key, h.clock.now)).to.equal(0);
    });

    it('redirects a non-XHR pass with 302 to next and body {}', async () => {
      const res = await post(
        await formFor({ 'g-recaptcha-response': 'pass', next: '/basket/?a=1' }),
      );
      expect(res.status).to.equal(302);
      expect(res.headers.get('location')).to.equal('/basket/?a=1');
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(await res.json()).to.deep.equal({});
    });

    it('takes next from the query when the body has none', async () => {
      const res = await post(
        await formFor({ 'g-recaptcha-response': 'pass' }),
        {},
        `${PATH}?next=%2Forders%2F`,
      );
      expect(res.headers.get('location')).to.equal('/orders/');
    });

    for (const evil of [
      '//evil.com',
      '/\\evil.com',
      'https://evil.com',
      'javascript:alert(1)',
      '/\t/evil.com',
    ]) {
      it(`rejects a next of ${JSON.stringify(evil)} as an open redirect and sends the client to /`, async () => {
        const res = await post(await formFor({ 'g-recaptcha-response': 'pass', next: evil }));
        expect(res.status).to.equal(302);
        expect(res.headers.get('location')).to.equal('/');
      });
    }

    it('answers an XHR pass with the safe next in location', async () => {
      const res = await post(
        await formFor({ 'g-recaptcha-response': 'pass', next: '//evil.com' }),
        {
          'x-requested-with': 'XMLHttpRequest',
        },
      );
      expect(await res.json()).to.deep.equal({ location: '/' });
    });

    it('accepts a multipart/form-data body', async () => {
      const form = new FormData();
      form.set('csrfmiddlewaretoken', await tokenFor());
      form.set('g-recaptcha-response', 'pass-multipart');
      form.set('next', '/multi/');
      const res = await post(form);
      expect(res.status).to.equal(302);
      expect(res.headers.get('location')).to.equal('/multi/');
      expect(siteverify.calls[0]?.response).to.equal('pass-multipart');
    });

    it('accepts a JSON body', async () => {
      const body = JSON.stringify({
        csrfmiddlewaretoken: await tokenFor(),
        'g-recaptcha-response': 'pass',
      });
      const res = await post(body, {
        'content-type': 'application/json',
        'x-requested-with': 'XMLHttpRequest',
      });
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.equal({ location: '/' });
    });

    it('accepts the hCaptcha and Turnstile response fields', async () => {
      for (const field of ['h-captcha-response', 'cf-turnstile-response']) {
        const res = await post(await formFor({ [field]: `pass-${field}` }));
        expect(res.status, field).to.equal(302);
      }
      expect(siteverify.calls.map((c) => c.response)).to.deep.equal([
        'pass-h-captcha-response',
        'pass-cf-turnstile-response',
      ]);
    });

    it('sends the client address as remoteip and counts an IPv6 client by its /64', async () => {
      const client = '2001:db8:1:2::7';
      await h.store.throttle('2001:db8:1:2::/64', h.clock.now + 60_000);
      const res = await post(await formFor({ 'g-recaptcha-response': 'pass' }, client), {
        'x-test-client': client,
      });
      expect(res.status).to.equal(302);
      expect(siteverify.calls[0]?.remoteip).to.equal(client);
      expect(await h.store.throttledUntil('2001:db8:1:2::/64', h.clock.now)).to.equal(0);
    });

    describe('415 for other content types', () => {
      for (const type of ['text/plain', 'application/xml', 'application/vnd.api+json']) {
        it(`refuses ${type}`, async () => {
          const res = await post('g-recaptcha-response=pass', { 'content-type': type });
          expect(res.status).to.equal(415);
          expect(res.headers.get('cache-control')).to.equal('no-store');
          expect(lastOutcome()).to.equal('captcha_failed');
        });
      }

      it('refuses a POST without a content type', async () => {
        const res = await fetch(h.url + PATH, { method: 'POST' });
        expect(res.status).to.equal(415);
      });

      it('refuses a compressed multipart body it cannot read', async () => {
        const res = await post('--x--', {
          'content-type': 'multipart/form-data; boundary=x',
          'content-encoding': 'br',
        });
        expect(res.status).to.equal(415);
      });
    });

    describe('413 for bodies over max_body', () => {
      it('refuses by Content-Length before reading the body', async () => {
        const res = await rawPost(
          { 'content-type': FORM, 'content-length': 10 * 1024 * 1024 },
          (req) => {
            req.write('g-recaptcha-response=pass&');
          },
        );
        expect(res.status).to.equal(413);
        expect(res.headers['cache-control']).to.equal('no-store');
        expect(siteverify.calls).to.have.length(0);
      });

      for (const type of [FORM, 'application/json', 'multipart/form-data; boundary=x']) {
        it(`refuses a chunked ${type.split(';')[0]} body without a length by counting`, async () => {
          const res = await rawPost(
            { 'content-type': type, 'transfer-encoding': 'chunked' },
            (req) => {
              const chunk = 'a'.repeat(512);
              // More than max_body in total, with no Content-Length to check up front.
              for (let i = 0; i < 8; i++) req.write(chunk);
              req.end();
            },
          );
          expect(res.status).to.equal(413);
          expect(siteverify.calls).to.have.length(0);
        });
      }

      it('accepts a body of exactly max_body bytes', async () => {
        const base = await formFor({ 'g-recaptcha-response': 'pass' });
        const body = base + '&pad=' + 'a'.repeat(MAX_BODY - base.length - '&pad='.length);
        expect(Buffer.byteLength(body)).to.equal(MAX_BODY);
        expect((await post(body)).status).to.equal(302);
      });
    });

    describe('429 after attempts.limit POSTs in the window', () => {
      it('refuses the attempt after the limit with Retry-After, without calling siteverify', async () => {
        const token = await tokenFor();
        for (let i = 0; i < ATTEMPTS; i++) {
          const res = await post(
            new URLSearchParams({
              csrfmiddlewaretoken: token,
              'g-recaptcha-response': 'wrong',
            }).toString(),
          );
          expect(res.status).to.equal(400);
        }
        const calls = siteverify.calls.length;
        const res = await post(
          new URLSearchParams({
            csrfmiddlewaretoken: token,
            'g-recaptcha-response': 'pass',
          }).toString(),
        );
        expect(res.status).to.equal(429);
        expect(res.headers.get('retry-after')).to.equal('60');
        expect(res.headers.get('cache-control')).to.equal('no-store');
        expect(siteverify.calls).to.have.length(calls);
      });

      it('counts attempts per client', async () => {
        for (let i = 0; i < ATTEMPTS + 1; i++)
          await post('x=1', { 'x-test-client': '198.51.100.1' });
        const res = await post(await formFor({ 'g-recaptcha-response': 'pass' }));
        expect(res.status).to.equal(302);
      });

      it('allows attempts again once the burst has slid out of the window', async () => {
        for (let i = 0; i < ATTEMPTS + 1; i++) await post('x=1');
        expect((await post('x=1')).status).to.equal(429);
        // The sliding window weighs the previous bucket by its overlap: a burst is forgotten
        // entirely once the bucket after it has ended too, at most two windows later.
        h.clock.now += 121_000;
        expect((await post(await formFor({ 'g-recaptcha-response': 'pass' }))).status).to.equal(
          302,
        );
      });
    });

    describe('403 for a missing, forged, expired or foreign CSRF token, without siteverify', () => {
      const refused = async (res: Response) => {
        expect(res.status).to.equal(403);
        expect(await res.json()).to.deep.equal({ detail: 'CSRF verification failed.' });
        expect(res.headers.get('cache-control')).to.equal('no-store');
        expect(siteverify.calls).to.have.length(0);
        expect(lastOutcome()).to.equal('captcha_failed');
      };

      it('refuses a POST without a token', async () => {
        await refused(await post('g-recaptcha-response=pass'));
      });

      it('refuses a forged token', async () => {
        const token = await tokenFor();
        const forged = token.slice(0, -4) + (token.endsWith('0000') ? '1111' : '0000');
        await refused(await post('g-recaptcha-response=pass', { 'x-csrftoken': forged }));
      });

      it('refuses a token of the right shape made with another secret', async () => {
        const other = createCsrfTokens({
          key: Buffer.from('not-ours'),
          ttlMs: 60_000,
          now: () => h.clock.now,
        });
        await refused(
          await post('g-recaptcha-response=pass', { 'x-csrftoken': other.issue('203.0.113.7') }),
        );
      });

      it('refuses an expired token', async () => {
        const token = await tokenFor();
        h.clock.now += 10 * 60_000 + 1;
        await refused(await post('g-recaptcha-response=pass', { 'x-csrftoken': token }));
      });

      it('refuses a token issued to another client', async () => {
        const token = await tokenFor('198.51.100.9');
        await refused(await post('g-recaptcha-response=pass', { 'x-csrftoken': token }));
      });

      it('refuses a forged field even when the header holds a valid token', async () => {
        const body = new URLSearchParams({
          csrfmiddlewaretoken: 'abc',
          'g-recaptcha-response': 'pass',
        });
        await refused(await post(body.toString(), { 'x-csrftoken': await tokenFor() }));
      });

      it('refuses a token of hostile length and alphabet without failing', async () => {
        await refused(await post('g-recaptcha-response=pass', { 'x-csrftoken': 'ü'.repeat(4000) }));
      });
    });

    describe('400 for a missing captcha response, without siteverify', () => {
      it('answers error_codes ["missing-input-response"]', async () => {
        const res = await post(await formFor({}));
        expect(res.status).to.equal(400);
        const body = (await res.json()) as { detail: string; error_codes: string[] };
        expect(body.error_codes).to.deep.equal(['missing-input-response']);
        expect(body.detail).to.be.a('string').and.not.equal('');
        expect(siteverify.calls).to.have.length(0);
      });

      it('treats an empty response as missing', async () => {
        const res = await post(await formFor({ 'g-recaptcha-response': '' }));
        expect(((await res.json()) as { error_codes: string[] }).error_codes).to.deep.equal([
          'missing-input-response',
        ]);
        expect(siteverify.calls).to.have.length(0);
      });
    });

    describe('400, never 500, for malformed fields', () => {
      const cases: [string, () => Promise<[string, string]>][] = [
        [
          'a duplicated response field',
          async () => [
            FORM,
            (await formFor({})) + '&g-recaptcha-response=pass&g-recaptcha-response=pass2',
          ],
        ],
        [
          'an array response field',
          async () => [FORM, (await formFor({})) + '&g-recaptcha-response[]=pass'],
        ],
        [
          'an object response field',
          async () => [FORM, (await formFor({})) + '&g-recaptcha-response[a]=pass'],
        ],
        [
          'a response holding NUL',
          async () => [FORM, (await formFor({})) + '&g-recaptcha-response=pa%00ss'],
        ],
        [
          'a duplicated csrf field',
          async () => [
            FORM,
            (await formFor({ 'g-recaptcha-response': 'pass' })) + '&csrfmiddlewaretoken=x',
          ],
        ],
        [
          'a next that is an array',
          async () => [
            FORM,
            (await formFor({ 'g-recaptcha-response': 'pass' })) + '&next=/a&next=/b',
          ],
        ],
        [
          'a JSON number response',
          async () => [
            'application/json',
            JSON.stringify({ csrfmiddlewaretoken: await tokenFor(), 'g-recaptcha-response': 7 }),
          ],
        ],
        [
          'a JSON object response',
          async () => [
            'application/json',
            JSON.stringify({
              csrfmiddlewaretoken: await tokenFor(),
              'g-recaptcha-response': { a: 1 },
            }),
          ],
        ],
        ['a JSON array body', async () => ['application/json', '["pass"]']],
        ['a JSON string body', async () => ['application/json', '"pass"']],
        ['broken JSON', async () => ['application/json', '{"g-recaptcha-response": ']],
        [
          'JSON with __proto__',
          async () => [
            'application/json',
            '{"__proto__": {"x": 1}, "g-recaptcha-response": "pass"}',
          ],
        ],
        ['a multipart body without its boundary', async () => ['multipart/form-data', 'garbage']],
        [
          'a multipart body with a broken boundary',
          async () => ['multipart/form-data; boundary=zz', '--zz\r\nbroken'],
        ],
      ];
      for (const [name, build] of cases) {
        it(`refuses ${name} with 400`, async () => {
          const [type, body] = await build();
          const res = await post(body, { 'content-type': type });
          expect(res.status).to.equal(400);
          expect(await res.json()).to.have.property('detail');
          expect(siteverify.calls).to.have.length(0);
        });
      }

      it('refuses a file upload in the response field with 400', async () => {
        const form = new FormData();
        form.set('csrfmiddlewaretoken', await tokenFor());
        form.set('g-recaptcha-response', new Blob(['pass']), 'answer.txt');
        const res = await post(form);
        expect(res.status).to.equal(400);
        expect(siteverify.calls).to.have.length(0);
      });

      it('refuses a duplicated multipart field with 400', async () => {
        const form = new FormData();
        form.set('csrfmiddlewaretoken', await tokenFor());
        form.append('g-recaptcha-response', 'pass');
        form.append('g-recaptcha-response', 'pass');
        expect((await post(form)).status).to.equal(400);
      });
    });

    describe('400 when siteverify says no', () => {
      it('answers {"detail", "error_codes"} and keeps the client throttled', async () => {
        await h.store.throttle('203.0.113.7', h.clock.now + 60_000);
        const res = await post(await formFor({ 'g-recaptcha-response': 'wrong' }), {
          'accept-language': 'en',
        });
        expect(res.status).to.equal(400);
        expect(await res.json()).to.deep.equal({
          detail: 'Verification failed, please try again.',
          error_codes: ['invalid-input-response'],
        });
        expect(await h.store.throttledUntil('203.0.113.7', h.clock.now)).to.be.above(0);
        expect(lastOutcome()).to.equal('captcha_failed');
      });

      it('shows a browser the page again with the failure text and a fresh token', async () => {
        const token = await tokenFor();
        const body = new URLSearchParams({
          csrfmiddlewaretoken: token,
          'g-recaptcha-response': 'wrong',
          next: '/x/',
        });
        const res = await post(body.toString(), {
          accept: BROWSER_ACCEPT,
          'accept-language': 'en',
        });
        expect(res.status).to.equal(400);
        expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
        expect(res.headers.get('content-security-policy')).to.include("default-src 'none'");
        expect(res.headers.get('x-frame-options')).to.equal('DENY');
        const html = await res.text();
        expect(html).to.include('<p role="alert">Verification failed, please try again.</p>');
        expect(html).to.include("name='next' value='/x/'");
        const fresh = /name='csrfmiddlewaretoken' value='(\w+)'/.exec(html)?.[1];
        expect(fresh).to.be.a('string').and.not.equal(token);
        expect(res.headers.get('set-cookie')).to.equal(`csrftoken=${fresh}; Path=/; SameSite=Lax`);
      });

      it('answers an XHR that also accepts HTML with JSON', async () => {
        const res = await post(await formFor({ 'g-recaptcha-response': 'wrong' }), {
          accept: BROWSER_ACCEPT,
          'x-requested-with': 'XMLHttpRequest',
        });
        expect(res.status).to.equal(400);
        expect(res.headers.get('content-type')).to.match(/^application\/json/);
      });

      it('rejects a token solved on another site when hostnames are set', async () => {
        await h.close();
        h = await startHarness({ hostnames: ['www.shop.example'] });
        const res = await post(await formFor({ 'g-recaptcha-response': 'pass' }));
        expect(res.status).to.equal(400);
        expect(((await res.json()) as { error_codes: string[] }).error_codes).to.deep.equal([
          'hostname-mismatch',
        ]);
      });

      it('rejects a score below min_score', async () => {
        await h.close();
        h = await startHarness({ minScore: 0.95 });
        const res = await post(await formFor({ 'g-recaptcha-response': 'pass' }));
        expect(res.status).to.equal(400);
        expect(((await res.json()) as { error_codes: string[] }).error_codes).to.deep.equal([
          'score-too-low',
        ]);
      });
    });

    describe('503 when siteverify is unreachable, slow or broken; the client stays throttled', () => {
      const outages: [string, Parameters<SiteverifyServer['answer']>[0]][] = [
        ['answers 502', () => ({ status: 502, raw: 'bad gateway' })],
        ['answers 500 with a success body', () => ({ status: 500, body: { success: true } })],
        ['never answers (timeout)', () => ({ hang: true })],
        ['answers HTML', () => ({ raw: '<html>maintenance</html>' })],
        ['answers "success": "true" as a string', () => ({ body: { success: 'true' } })],
      ];
      for (const [name, responder] of outages) {
        it(`answers 503 when siteverify ${name}`, async () => {
          await h.store.throttle('203.0.113.7', h.clock.now + 60_000);
          siteverify.answer(responder);
          const res = await post(await formFor({ 'g-recaptcha-response': 'pass' }));
          expect(res.status).to.equal(503);
          expect(res.headers.get('cache-control')).to.equal('no-store');
          const body = (await res.json()) as Record<string, unknown>;
          expect(Object.keys(body)).to.deep.equal(['detail']);
          expect(JSON.stringify(body)).to.not.match(/127\.0\.0\.1|ETIMEDOUT|ECONN|status/);
          expect(await h.store.throttledUntil('203.0.113.7', h.clock.now)).to.be.above(0);
          expect(lastOutcome()).to.equal('captcha_failed');
        });
      }

      it('logs the outage with a stable event and no secret, token or captcha response', async () => {
        siteverify.answer(() => ({ status: 502 }));
        const token = await tokenFor();
        const body = new URLSearchParams({
          csrfmiddlewaretoken: token,
          'g-recaptcha-response': 'pass-secret-answer',
        });
        await post(body.toString(), { 'x-csrftoken': token });
        const events = h.logs.map(
          (line) => JSON.parse(line) as { event?: string; reason?: string },
        );
        expect(events.find((e) => e.event === 'siteverify_error')?.reason).to.equal('status 502');
        const all = h.logs.join('\n');
        for (const secret of [CAPTCHA_SECRET, CSRF_SECRET, token, 'pass-secret-answer']) {
          expect(all).to.not.include(secret);
        }
      });
    });

    it('counts siteverify results by success, rejected and error', async () => {
      await post(await formFor({ 'g-recaptcha-response': 'pass' }));
      await post(await formFor({ 'g-recaptcha-response': 'wrong' }));
      siteverify.answer(() => ({ status: 500 }));
      await post(await formFor({ 'g-recaptcha-response': 'pass' }));
      const { values } = await h.metrics.siteverify.get();
      const count = (result: string) => values.find((v) => v.labels.result === result)?.value;
      expect([count('success'), count('rejected'), count('error')]).to.deep.equal([1, 1, 1]);
    });
  });

  describe('failures of our own', () => {
    it('answers a generic 500 JSON, and logs it, when something unexpected breaks', async () => {
      const res = await fetch(h.url + PATH, { headers: { 'x-test-no-exchange': '1' } });
      expect(res.status).to.equal(500);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.headers.get('set-cookie')).to.equal(null);
      const text = await res.text();
      expect(JSON.parse(text)).to.deep.equal({ detail: 'Internal error.' });
      expect(text).to.not.match(/exchange|at |\.ts/);
      expect(h.logs.some((line) => line.includes('"event":"captcha_error"'))).to.equal(true);
      // Still serving afterwards.
      expect((await get()).status).to.equal(200);
    });

    it('answers 503 without internals when the store cannot be reached', async () => {
      const down = new (class extends MemoryStore {
        override async attempt(): Promise<boolean> {
          throw new Error('connect ECONNREFUSED 10.0.0.5:6379');
        }
      })({ maxClients: 10 });
      await h.close();
      h = await startHarness({ store: down });
      const res = await post(await formFor({ 'g-recaptcha-response': 'pass' }));
      expect(res.status).to.equal(503);
      const text = await res.text();
      expect(text).to.not.include('10.0.0.5');
      expect(text).to.not.include('ECONNREFUSED');
      expect(siteverify.calls).to.have.length(0);
    });
  });
});
