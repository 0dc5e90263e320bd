// Shoppers and bots behind a headless storefront (the package's own relay, login and page-data code,
// test/helpers/storefront.ts), in front of a gateway running config/examples/project-zero.yaml.
// Everything reaches the gateway from the storefront's address (loopback here); relayed calls carry
// the shopper's address in X-Real-IP (set by the ingress), logins carry only the shopper's cookies,
// page data carries neither.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { deleteKeys, needRedis, randomPrefix, REDIS_URL } from '../helpers/redis-server.js';
import { startSiteverify, type SiteverifyServer } from '../helpers/siteverify-server.js';
import {
  Shopper,
  startStorefront,
  type LoginAnswer,
  type Storefront,
} from '../helpers/storefront.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const EXAMPLE = new URL('../../config/examples/project-zero.yaml', import.meta.url);

/** The example's limits the scenarios are built on (checked against the loaded config). */
const SHOPPER_LIMIT = 300;
const LOGIN_RULE_LIMIT = 10;
const ANONYMOUS_LOGIN_BUDGET = 30;
const CLEARANCE_COOKIE = 'cgw_clearance';
const CLEARANCE_TTL_S = 1800;

const SITE_KEY = '6LcStorefrontKey';
const SECRETS = {
  CAPTCHA_SITE_KEY: SITE_KEY,
  CAPTCHA_SECRET: 'captcha-secret',
  // Signs CSRF tokens and clearances alike: one secret for every replica.
  CSRF_SECRET: 'csrf-and-clearance-secret-shared-by-all-replicas',
};

/** The example config with the test's upstream, captcha provider, ports and store. */
function gatewayYaml(upstreamUrl: string, siteverifyUrl: string, store = ''): string {
  return `${readFileSync(EXAMPLE, 'utf8')}
upstream: { url: "${upstreamUrl}" }
captcha: { site_key: ${SITE_KEY}, secret: captcha-secret, verify_url: "${siteverifyUrl}" }
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: admin-token }
log: { level: silent }
${store}`;
}

const ADMIN_TOKEN = 'admin-token';

/** Throttles `address` now, as the admin API does (a throttle without spending a burst on it). */
async function throttleAddress(gateway: RunningGateway, address: string): Promise<void> {
  const answer = await fetch(`${gateway.adminUrl}/admin/clients/${address}/throttle`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  await answer.arrayBuffer();
  expect(answer.status).to.equal(204);
}

/** A clock the test moves: the gateway's time. */
function testClock(): { now: () => number; advance(ms: number): void } {
  let nowMs = Date.parse('2026-03-02T10:00:00Z');
  return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
}

interface Tally {
  passed: number;
  refused: number;
}

/** `count` relayed GETs, `parallel` at a time: how many commerce answered, how many were refused. */
async function burst(shopper: Shopper, count: number, parallel = 10): Promise<Tally> {
  const tally: Tally = { passed: 0, refused: 0 };
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      sent += 1;
      const answer = await shopper.relay('GET', '/products/1/');
      if (answer.status === 200) tally.passed += 1;
      else if (answer.status === 429 && refusedToCaptcha(answer.body)) tally.refused += 1;
      else throw new Error(`unexpected answer ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return tally;
}

/** The gateway's refusal as the relay passes it on: a redirect_url to the captcha. */
function refusedToCaptcha(body: unknown): boolean {
  const url = (body as { redirect_url?: unknown } | null)?.redirect_url;
  return typeof url === 'string' && url.includes('captcha');
}

/** A login commerce answered (the test upstream's echo reads as field errors) or a captcha. */
function loginOutcome(answer: LoginAnswer): 'reached commerce' | 'captcha' {
  if (answer.errors.length === 1 && answer.errors[0] === 'captcha') return 'captcha';
  if (answer.errors.length === 1 && answer.errors[0] === 'field_errors') return 'reached commerce';
  throw new Error(`unexpected login answer ${JSON.stringify(answer)}`);
}

async function logins(shopper: Shopper, count: number): Promise<Tally> {
  const tally: Tally = { passed: 0, refused: 0 };
  for (let i = 0; i < count; i += 1) {
    if (loginOutcome(await shopper.login()) === 'captcha') tally.refused += 1;
    else tally.passed += 1;
  }
  return tally;
}

/** The clearance Set-Cookie's attributes, split as a browser splits one field. */
function cookieAttributes(field: string): { name: string; attributes: string[] } {
  const [pair = '', ...attributes] = field.split(';').map((part) => part.trim());
  return { name: pair.slice(0, pair.indexOf('=')), attributes };
}

describe('behind a headless storefront (@akinon/next 1.24.0, config/examples/project-zero.yaml)', function () {
  this.timeout(60_000);
  let upstream: Upstream;
  let siteverify: SiteverifyServer;
  let clock: ReturnType<typeof testClock>;
  let gateway: RunningGateway;
  let storefront: Storefront;

  before(async () => {
    upstream = await startUpstream();
    siteverify = await startSiteverify();
  });
  after(async () => {
    await upstream?.close();
    await siteverify?.close();
  });

  async function start(store = ''): Promise<RunningGateway> {
    return startGateway(gatewayYaml(upstream.url, siteverify.url, store), {
      now: clock.now,
      env: SECRETS,
    });
  }

  describe('on one gateway', () => {
    beforeEach(async () => {
      upstream.requests.length = 0;
      siteverify.calls.length = 0;
      clock = testClock();
      gateway = await start();
      storefront = await startStorefront({ commerceUrl: gateway.url });
    });
    afterEach(async () => {
      await storefront?.close();
      await gateway?.stop();
    });

    it('runs the example limits the scenarios are built on', () => {
      const { throttle } = gateway.config;
      expect(throttle.limit).to.equal(SHOPPER_LIMIT);
      expect(throttle.rules.find((rule) => rule.name === 'login')?.limit).to.equal(
        LOGIN_RULE_LIMIT,
      );
      const storefrontGroup = throttle.shared.find((group) => group.name === 'storefront');
      expect(
        storefrontGroup?.budgets.find((budget) => budget.name === 'anonymous-login')?.limit,
      ).to.equal(ANONYMOUS_LOGIN_BUDGET);
      expect(gateway.config.clearance.cookie).to.equal(CLEARANCE_COOKIE);
      expect(gateway.config.clearance.ttl).to.equal(CLEARANCE_TTL_S * 1000);
    });

    it("keeps two shoppers apart: S1's burst throttles S1 only", async () => {
      const s1 = new Shopper(storefront.url, '198.51.100.7');
      const s2 = new Shopper(storefront.url, '198.51.100.8');

      const s1Burst = await burst(s1, SHOPPER_LIMIT + 10);
      const s2Calls = await burst(s2, 5);

      expect(s1Burst).to.deep.equal({ passed: SHOPPER_LIMIT, refused: 10 });
      expect(s2Calls).to.deep.equal({ passed: 5, refused: 0 });
      expect(loginOutcome(await s2.login())).to.equal('reached commerce');
      expect(upstream.requests.filter((r) => r.url === '/products/1/')).to.have.length(
        SHOPPER_LIMIT + 5,
      );
    });

    it('frees only the shopper who solved the captcha: S2, throttled too, stays throttled', async () => {
      const s1 = new Shopper(storefront.url, '198.51.100.7');
      const s2 = new Shopper(storefront.url, '198.51.100.8');
      await throttleAddress(gateway, s1.address);
      await throttleAddress(gateway, s2.address);
      expect(await burst(s1, 3)).to.deep.equal({ passed: 0, refused: 3 });
      expect(await burst(s2, 3)).to.deep.equal({ passed: 0, refused: 3 });

      const { siteKey } = await s1.getCaptcha();
      expect(siteKey).to.equal(SITE_KEY);
      const solved = await s1.validateCaptcha('pass-s1');
      expect(solved.success, JSON.stringify(solved.answer)).to.equal(true);
      expect(siteverify.calls.map((call) => call.response)).to.deep.equal(['pass-s1']);
      expect(siteverify.calls[0]!.remoteip).to.equal('198.51.100.7');

      expect(await burst(s1, 10)).to.deep.equal({ passed: 10, refused: 0 });
      expect(await burst(s2, 10)).to.deep.equal({ passed: 0, refused: 10 });
    });

    it('lets 2,000 page-data fetches a minute from the storefront through', async () => {
      const pages = 2000;
      const minuteMs = 60_000;
      let passed = 0;
      let next = 0;
      const lane = async () => {
        while (next < pages) {
          next += 1;
          clock.advance(minuteMs / pages);
          const data = (await storefront.pageData('/widgets/home/')) as { url?: string } | null;
          if (data?.url === '/widgets/home/') passed += 1;
        }
      };
      await Promise.all(Array.from({ length: 10 }, lane));

      expect(passed).to.equal(pages);
      expect(upstream.requests.filter((r) => r.url === '/widgets/home/')).to.have.length(pages);
    });

    it('under a login flood, a new shopper meets one captcha, then logs in while the flood stays refused', async () => {
      const bot = new Shopper(storefront.url, '203.0.113.66');
      const shopper = new Shopper(storefront.url, '198.51.100.9');

      // The bot burns the storefront's anonymous login budget.
      expect(await logins(bot, ANONYMOUS_LOGIN_BUDGET + 10)).to.deep.equal({
        passed: ANONYMOUS_LOGIN_BUDGET,
        refused: 10,
      });

      // The shopper, without a clearance, is anonymous too: one captcha.
      expect(loginOutcome(await shopper.login())).to.equal('captcha');
      const solved = await shopper.solveCaptcha('pass-shopper');
      expect(solved.success, JSON.stringify(solved.answer)).to.equal(true);
      expect(shopper.cookiesFor('/').has(CLEARANCE_COOKIE)).to.equal(true);

      // Then the shopper logs in, as often as the login rule allows one client, while the bot
      // keeps hammering; more than the shared budget had left (nothing) and the bot gets nothing.
      const shopperLogins: Tally = { passed: 0, refused: 0 };
      const floodLogins: Tally = { passed: 0, refused: 0 };
      for (let i = 0; i < LOGIN_RULE_LIMIT; i += 1) {
        const flood = await logins(bot, 3);
        floodLogins.passed += flood.passed;
        floodLogins.refused += flood.refused;
        const own = await logins(shopper, 1);
        shopperLogins.passed += own.passed;
        shopperLogins.refused += own.refused;
      }
      expect(shopperLogins).to.deep.equal({ passed: LOGIN_RULE_LIMIT, refused: 0 });
      expect(floodLogins).to.deep.equal({ passed: 0, refused: 3 * LOGIN_RULE_LIMIT });

      // The clearance has a budget of its own: past the login rule it meets the captcha again,
      // and one more solve buys one more budget.
      expect(loginOutcome(await shopper.login())).to.equal('captcha');
      expect((await shopper.solveCaptcha('pass-shopper-again')).success).to.equal(true);
      expect(loginOutcome(await shopper.login())).to.equal('reached commerce');
      expect(await logins(bot, 5)).to.deep.equal({ passed: 0, refused: 5 });

      expect(siteverify.calls).to.have.length(2);
      expect(upstream.requests.filter((r) => r.url === '/users/login/')).to.have.length(
        ANONYMOUS_LOGIN_BUDGET + LOGIN_RULE_LIMIT + 1,
      );
    });

    it('counts a forged clearance as none', async () => {
      const bot = new Shopper(storefront.url, '203.0.113.66');
      await logins(bot, ANONYMOUS_LOGIN_BUDGET);
      const forger = new Shopper(storefront.url, '203.0.113.67');
      forger.setCookie(CLEARANCE_COOKIE, 'AAAAforgedAAAA');
      expect(loginOutcome(await forger.login())).to.equal('captcha');
    });

    it('counts an expired clearance as none', async () => {
      const shopper = new Shopper(storefront.url, '198.51.100.9');
      expect((await shopper.solveCaptcha('pass-early')).success).to.equal(true);
      // The browser's clock says the cookie still lives; the gateway's says its time is up.
      clock.advance((CLEARANCE_TTL_S + 60) * 1000);
      const bot = new Shopper(storefront.url, '203.0.113.66');
      expect(await logins(bot, ANONYMOUS_LOGIN_BUDGET + 1)).to.deep.equal({
        passed: ANONYMOUS_LOGIN_BUDGET,
        refused: 1,
      });
      expect(shopper.cookiesFor('/').has(CLEARANCE_COOKIE)).to.equal(true);
      expect(loginOutcome(await shopper.login())).to.equal('captcha');
    });

    it('grants the clearance in exactly one Set-Cookie, Path=/ and Max-Age, no Expires', async () => {
      const shopper = new Shopper(storefront.url, '198.51.100.7');
      await shopper.getCaptcha();
      const solved = await shopper.validateCaptcha('pass-cookie');
      expect(solved.success).to.equal(true);

      // The relay joins several Set-Cookie fields with ", ": one field without a comma is one cookie.
      expect(solved.answer.setCookie).to.have.length(1);
      const field = solved.answer.setCookie[0]!;
      expect(field).not.to.include(',');
      const { name, attributes } = cookieAttributes(field);
      expect(name).to.equal(CLEARANCE_COOKIE);
      expect(attributes).to.include('Path=/');
      expect(attributes).to.include(`Max-Age=${CLEARANCE_TTL_S}`);
      expect(attributes.map((a) => a.toLowerCase())).to.include.members([
        'httponly',
        'samesite=lax',
      ]);
      expect(attributes.some((a) => /^expires=/i.test(a))).to.equal(false);
      expect(shopper.cookiesFor('/users/login/').has(CLEARANCE_COOKIE)).to.equal(true);
    });

    it('never adds a Set-Cookie to a proxied upstream answer, clearance or not', async () => {
      const shopper = new Shopper(storefront.url, '198.51.100.7');
      const plain = await shopper.relay('GET', '/products/1/');
      expect(plain.setCookie).to.deep.equal([]);

      expect((await shopper.solveCaptcha('pass-1')).success).to.equal(true);
      const cleared = await shopper.relay('GET', '/products/1/');
      expect(cleared.status).to.equal(200);
      expect(cleared.setCookie).to.deep.equal([]);
      // The upstream's own two cookies come back as the relay joins them, nothing added.
      const hop = await shopper.relay('GET', '/hop', undefined, { useTrailingSlash: false });
      expect(hop.setCookie).to.deep.equal(['first=1; Path=/; HttpOnly, second=2; Path=/; Secure']);

      // Straight at the gateway, as any other client reaches it.
      const direct = await fetch(`${gateway.url}/hop`);
      await direct.arrayBuffer();
      expect(direct.headers.getSetCookie()).to.deep.equal([
        'first=1; Path=/; HttpOnly',
        'second=2; Path=/; Secure',
      ]);
    });
  });

  describe('on two replicas sharing Redis', () => {
    let prefix: string;
    let replicas: RunningGateway[];
    let storefronts: Storefront[];

    before(async function () {
      await needRedis(this);
    });
    beforeEach(async () => {
      upstream.requests.length = 0;
      siteverify.calls.length = 0;
      clock = testClock();
      prefix = randomPrefix();
      const store = `store: { type: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}" } }`;
      replicas = await Promise.all([start(store), start(store)]);
      storefronts = await Promise.all(
        replicas.map((replica) => startStorefront({ commerceUrl: replica.url })),
      );
    });
    afterEach(async () => {
      await Promise.all((storefronts ?? []).map((s) => s.close()));
      await Promise.all((replicas ?? []).map((r) => r.stop()));
      await deleteKeys(prefix);
    });

    it('honours a clearance granted by one replica on the other', async () => {
      const [a, b] = storefronts as [Storefront, Storefront];
      const bot = new Shopper(a.url, '203.0.113.66');
      const botOnB = new Shopper(b.url, '203.0.113.66');
      expect(await logins(bot, ANONYMOUS_LOGIN_BUDGET + 1)).to.deep.equal({
        passed: ANONYMOUS_LOGIN_BUDGET,
        refused: 1,
      });

      // The shopper solves the captcha on storefront A (gateway replica A)...
      const shopper = new Shopper(a.url, '198.51.100.9');
      expect(loginOutcome(await shopper.login())).to.equal('captcha');
      expect((await shopper.solveCaptcha('pass-replica')).success).to.equal(true);
      // ...and the load balancer sends the next requests to storefront B (replica B).
      shopper.useStorefront(b.url);
      expect(loginOutcome(await shopper.login())).to.equal('reached commerce');
      expect((await shopper.relay('GET', '/products/1/')).status).to.equal(200);
      expect(await logins(botOnB, 3)).to.deep.equal({ passed: 0, refused: 3 });
      expect(siteverify.calls).to.have.length(1);
    });
  });
});
