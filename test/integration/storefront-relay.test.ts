// The test storefront runs the headless storefront package's own relay, login and page-data code:
// these tests pin what that code sends to commerce and hands back to the browser, against a real
// upstream, so the gateway scenarios built on it test the real topology.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Shopper, startStorefront, type Storefront } from '../helpers/storefront.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const SHOPPER_ADDRESS = '198.51.100.7';
const NO_TRAILING_SLASH = { useTrailingSlash: false };

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('test storefront (the package @akinon/next 1.24.0, run as published)', function () {
  this.timeout(20_000);
  let upstream: Upstream;
  let storefront: Storefront;

  before(async () => {
    upstream = await startUpstream();
    storefront = await startStorefront({ commerceUrl: upstream.url });
  });
  after(async () => {
    await storefront.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.requests.length = 0;
  });

  describe('relay (api/client.ts)', () => {
    it('drops the forwarding and browser headers it deletes and passes X-Real-IP and cookies on', async () => {
      const shopper = new Shopper(storefront.url, SHOPPER_ADDRESS);
      shopper.setCookie('csrftoken', 'abc123');
      const answer = await shopper.relay('GET', '/users/profile/');
      expect(answer.status).to.equal(200);
      const seen = await upstream.waitForRequest();
      expect(seen.method).to.equal('GET');
      expect(seen.url).to.equal('/users/profile/');
      for (const deleted of [
        'x-forwarded-for',
        'x-forwarded-host',
        'x-forwarded-proto',
        'x-forwarded-port',
        'origin',
      ]) {
        expect(seen.headers, deleted).not.to.have.property(deleted);
      }
      expect(seen.headers['x-real-ip']).to.equal(SHOPPER_ADDRESS);
      expect(seen.headers['x-requested-with']).to.equal('XMLHttpRequest');
      expect(seen.headers.referer).to.equal(upstream.url);
      expect(seen.headers.accept).to.equal('application/json');
      expect(seen.headers.host).to.equal(new URL(upstream.url).host);
      expect(seen.headers.cookie).to.equal('pz-locale=en; pz-currency=usd; csrftoken=abc123');
      expect(seen.headers['x-csrftoken']).to.equal('abc123');
      expect(seen.headers['accept-language']).to.equal('en-us');
      expect(seen.headers['x-currency']).to.equal('usd');
    });

    it('sends form calls as URL-encoded form data without the empty values', async () => {
      const shopper = new Shopper(storefront.url, SHOPPER_ADDRESS);
      await shopper.relay(
        'POST',
        '/users/pz-captcha/',
        { 'g-recaptcha-response': 'pass-1', next: '' },
        { useFormData: true },
      );
      const seen = await upstream.waitForRequest();
      await seen.bodyEnded;
      expect(seen.headers['content-type']).to.equal(
        'application/x-www-form-urlencoded;charset=UTF-8',
      );
      expect(seen.bodySha256).to.equal(sha256('g-recaptcha-response=pass-1'));
    });

    it('sends other calls as JSON text, empty values included', async () => {
      const shopper = new Shopper(storefront.url, SHOPPER_ADDRESS);
      const body = { quantity: '1', note: '' };
      await shopper.relay('POST', '/baskets/basket/', body);
      const seen = await upstream.waitForRequest();
      await seen.bodyEnded;
      expect(seen.bodySha256).to.equal(sha256(JSON.stringify(body)));
      // No content type is set for JSON text: fetch labels a string body text/plain.
      expect(seen.headers['content-type']).to.equal('text/plain;charset=UTF-8');
    });

    it('joins several Set-Cookie fields with ", " into ONE field, which the browser keeps as one cookie', async () => {
      const shopper = new Shopper(storefront.url, SHOPPER_ADDRESS);
      const answer = await shopper.relay('GET', '/hop', undefined, NO_TRAILING_SLASH);
      expect(answer.setCookie).to.deep.equal([
        'first=1; Path=/; HttpOnly, second=2; Path=/; Secure',
      ]);
      const cookies = shopper.cookiesFor('/');
      expect(cookies.get('first')).to.equal('1');
      expect(cookies.has('second'), 'the second cookie is lost in the join').to.equal(false);
    });

    it('follows redirects: the browser sees the final answer, never the redirect', async () => {
      const shopper = new Shopper(storefront.url, SHOPPER_ADDRESS);
      const answer = await shopper.relay(
        'GET',
        `/redirect?to=${encodeURIComponent('/landing/')}&code=302`,
        undefined,
        NO_TRAILING_SLASH,
      );
      expect(answer.status).to.equal(200);
      expect((answer.body as { url: string }).url).to.equal('/landing/');
      expect(upstream.requests.map((request) => request.url)).to.deep.equal([
        '/redirect?to=%2Flanding%2F&code=302',
        '/landing/',
      ]);
    });

    it('maps 200–209 to 200 and passes every other status through (its test is /^20./)', async () => {
      const shopper = new Shopper(storefront.url, SHOPPER_ADDRESS);
      const statuses: number[] = [];
      for (const code of [201, 202, 204, 226, 403, 429, 503]) {
        const answer = await shopper.relay(
          'GET',
          `/status?code=${code}`,
          undefined,
          NO_TRAILING_SLASH,
        );
        statuses.push(answer.status);
      }
      expect(statuses).to.deep.equal([200, 200, 200, 226, 403, 429, 503]);
    });
  });

  describe('login (api/auth.ts authorize)', () => {
    it('calls commerce itself with the browser cookie header, as JSON, and no client address', async () => {
      const shopper = new Shopper(storefront.url, SHOPPER_ADDRESS);
      shopper.setCookie('csrftoken', 'abc123');
      const answer = await shopper.login('ada@example.com', 'pw');
      // The test upstream echoes the request, which authorize reads as field errors.
      expect(answer).to.deep.equal({ signedIn: false, errors: ['field_errors'] });
      const seen = await upstream.waitForRequest();
      await seen.bodyEnded;
      expect(seen.method).to.equal('POST');
      expect(seen.url).to.equal('/users/login/');
      expect(seen.headers['content-type']).to.equal('application/json');
      expect(seen.headers.cookie).to.equal('pz-locale=en; pz-currency=usd; csrftoken=abc123');
      expect(seen.headers['accept-language']).to.equal('en-us');
      expect(seen.headers['x-currency']).to.equal('usd');
      expect(seen.headers).not.to.have.property('x-real-ip');
      expect(seen.headers).not.to.have.property('x-forwarded-for');
      expect(seen.bodySha256).to.equal(
        sha256(
          JSON.stringify({
            email: 'ada@example.com',
            password: 'pw',
            formType: 'login',
            locale: 'en',
          }),
        ),
      );
    });
  });

  describe('page data (utils/app-fetch.ts)', () => {
    it('fetches with neither a cookie nor a client address', async () => {
      const data = (await storefront.pageData('/widgets/home/')) as { url: string };
      expect(data.url).to.equal('/widgets/home/');
      const seen = await upstream.waitForRequest();
      expect(seen.headers).not.to.have.property('cookie');
      expect(seen.headers).not.to.have.property('x-real-ip');
      expect(seen.headers).not.to.have.property('x-forwarded-for');
      expect(seen.headers['accept-language']).to.equal('en-us');
      expect(seen.headers['x-currency']).to.equal('usd');
    });
  });
});
