// A shopper behind a shared address, in a real browser: another client on the same address keeps
// hammering the shop, the shopper meets the captcha once, solves it, and browses on under its
// clearance while the other client stays refused. Screenshot: test/artifacts/e2e/.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { startDemoShop, type DemoShop } from '../../gateway/demo/shop.js';
import {
  startTestProvider,
  WIDGET_LABEL,
  type TestProvider,
} from '../../gateway/demo/test-provider.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import {
  browserRequired,
  chromiumAvailability,
  launchChromium,
  watchProblems,
} from './chromium.js';

const ARTIFACTS_DIR = fileURLToPath(new URL('../artifacts/e2e/', import.meta.url));
const LIMIT = 5;
const SHOP_PAGE = '/products/1/';
const SHOP_HEADING = 'Linen shirt';

describe('e2e: a shopper behind a shared address solves once and browses on', function () {
  this.timeout(60_000);

  let browser: Browser | undefined;
  let shop: DemoShop;
  let provider: TestProvider;
  let gw: RunningGateway;

  before(async function () {
    const availability = chromiumAvailability();
    if (availability.kind === 'missing') {
      if (browserRequired()) {
        throw new Error(`${availability.message} (required here: CI or REQUIRE_BROWSER=1 is set)`);
      }
      console.warn(`    SKIPPED the browser suite: ${availability.message}`);
      this.skip();
    }
    const secret = randomBytes(16).toString('hex');
    shop = await startDemoShop(0, '127.0.0.1');
    provider = await startTestProvider({ secret, host: '127.0.0.1' });
    // The browser and the bot both come from 127.0.0.1, declared shared: like shoppers behind one
    // office NAT or carrier address.
    gw = await startGateway(`
upstream: { url: "${shop.url}" }
throttle:
  limit: ${LIMIT}
  window: 60s
  rules: []
  exempt: { paths: [/favicon.ico] }
  shared: [{ name: office, addresses: [loopback] }]
captcha:
  provider: test
  site_key: demositekey
  secret: ${secret}
  verify_url: "${provider.verifyUrl}"
  script_url: "${provider.scriptUrl}"
  default_language: en
csrf: { secret: ${randomBytes(32).toString('hex')} }
`);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    await provider?.close();
    await shop?.close();
  });

  /** One request of the other client on the address: a script, not a browser. */
  const hammer = async (): Promise<number> => {
    const res = await fetch(gw.url + SHOP_PAGE, { headers: { accept: 'application/json' } });
    await res.arrayBuffer();
    return res.status;
  };

  it('passes the captcha once and loads the shop page while the other client stays at 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) statuses.push(await hammer());
    expect(statuses.at(-1), 'the address is throttled').to.equal(429);

    const context = await browser!.newContext({
      locale: 'en-US',
      viewport: { width: 800, height: 600 },
    });
    const problems = watchProblems(context);
    const page = await context.newPage();
    await page.goto(gw.url + SHOP_PAGE);
    expect(new URL(page.url()).pathname, 'sent to the captcha').to.equal('/users/captcha/');

    await page.getByLabel(WIDGET_LABEL).check();
    const submit = gw.config.captcha.languages.en!.submit;
    await Promise.all([
      page.waitForURL(gw.url + SHOP_PAGE),
      page.getByRole('button', { name: submit }).click(),
    ]);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(SHOP_HEADING);
    const cookies = await context.cookies(gw.url);
    const clearance = cookies.find((c) => c.name === 'cgw_clearance');
    expect(clearance?.httpOnly, 'an HttpOnly clearance cookie').to.equal(true);
    expect(clearance?.path).to.equal('/');

    // The shopper's own budget: the landing after the captcha was load 1 of LIMIT.
    for (let load = 2; load <= LIMIT; load++) {
      const response = await page.goto(gw.url + SHOP_PAGE);
      expect(response?.status(), `shopper load ${load}`).to.equal(200);
      expect(await hammer(), `the other client, after shopper load ${load}`).to.equal(429);
    }
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS_DIR}shared-address-browsing-on.png` });
    expect(problems).to.deep.equal([]);
    await context.close();
  });
});
