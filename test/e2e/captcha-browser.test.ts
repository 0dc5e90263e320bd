// The demo in a real browser: headless Chromium is throttled by the gateway, meets the captcha
// page, ticks the local test widget and is sent back to the shop page it wanted. Also screenshots
// (test/artifacts/e2e/), the page on a 360 px phone, the request id as the support reference,
// console/CSP cleanliness and basic accessibility of the captcha page.
import { expect } from 'chai';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import type { FormTexts } from '../../gateway/captcha/render.js';
import { DEMO_LIMIT, startDemo, type RunningDemo } from '../../gateway/demo/start.js';
import { HELP_PATH, LOGO_PATH, SHOP_NAME } from '../../gateway/demo/shop.js';
import {
  TEST_PASS_PREFIX,
  WIDGET_LABEL,
  type SiteverifyCall,
} from '../../gateway/demo/test-provider.js';
import {
  browserRequired,
  chromiumAvailability,
  launchChromium,
  watchProblems,
  type PageProblem,
} from './chromium.js';

const ARTIFACTS_DIR = fileURLToPath(new URL('../artifacts/e2e/', import.meta.url));
// A desktop and the narrowest phone in common use.
const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  mobile: { width: 360, height: 740 },
} as const;
type Screen = keyof typeof VIEWPORTS;
// reCAPTCHA's checkbox widget is a fixed 304×78 px frame (hCaptcha's 303, Turnstile's 300): the
// card must leave that much room, or the real widget would stick out of it on a phone.
const WIDEST_WIDGET_PX = 304;
// The card's shadow reaches this far (box-shadow 0 2px 16px): the card must keep clear of the edge.
const CARD_GAP_PX = 8;
// A browser's locale sets its Accept-Language (tr-TR → "tr-TR,tr;q=0.9"), which picks the texts.
const LOCALES = { tr: 'tr-TR', en: 'en-US' } as const;
type Language = keyof typeof LOCALES;
const SHOP_PAGE = '/products/1/';
const SHOP_HEADING = 'Linen shirt';
// The widget's stylesheet makes the box 1.5rem wide; without it (blocked by CSP, say) it is ~13px.
const STYLED_BOX_WIDTH_PX = 24;
// Chromium's PNG of a blank 800×600 page is ~2.7 KB, of one lone heading ~3.3 KB; the captcha
// page with its texts, logo and widget is several times that.
const MIN_SCREENSHOT_BYTES = 12 * 1024;
const DOCUMENT_400 =
  'Failed to load resource: the server responded with a status of 400 (Bad Request)';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// Page scripts as source text: tsconfig has no DOM lib (the gateway is server code), so code that
// names `document` is handed to the browser as a string rather than type-checked here.
interface ActiveElement {
  readonly tag: string;
  readonly type: string | null;
}
const ACTIVE_ELEMENT = `(() => {
  const element = document.activeElement;
  return element === null ? null : { tag: element.tagName, type: element.getAttribute('type') };
})()`;
// What a phone shows: horizontal scrolling, the card's and the widget's boxes.
interface Fit {
  readonly scrollWidth: number;
  readonly innerWidth: number;
  readonly card: { readonly left: number; readonly right: number };
  readonly widgetRoomPx: number;
}
const MEASURE_FIT = `(() => {
  const card = document.querySelector('main').getBoundingClientRect();
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    card: { left: card.left, right: card.right },
    // The form's width: the real widgets are fixed frames placed in it (the test one is smaller).
    widgetRoomPx: document.querySelector('form').clientWidth,
  };
})()`;
const LOGO_LOADED = `(() => {
  const logo = document.querySelector('header img');
  return logo !== null && logo.complete && logo.naturalWidth > 0;
})()`;
const ADD_FOREIGN_IMAGE = `(() => {
  const image = document.createElement('img');
  image.src = 'http://127.0.0.1:9/not-allowed.png';
  document.body.appendChild(image);
})()`;

describe('e2e: the captcha flow in headless Chromium', function () {
  // One browser start (~1 s) and a few page loads per test; generous for a slow CI machine.
  this.timeout(30_000);

  let browser: Browser | undefined;
  let demo: RunningDemo;
  let verifications: SiteverifyCall[];
  const contexts: BrowserContext[] = [];

  before(async function () {
    const availability = chromiumAvailability();
    if (availability.kind === 'missing') {
      if (browserRequired()) {
        throw new Error(`${availability.message} (required here: CI or REQUIRE_BROWSER=1 is set)`);
      }
      console.warn(`    SKIPPED the browser suite: ${availability.message}`);
      this.skip();
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  // A demo per test: every test starts as a new visitor with no count and no throttle.
  beforeEach(async () => {
    verifications = [];
    demo = await startDemo({
      port: 0,
      adminPort: 0,
      logLevel: 'silent',
      onVerify: (call) => verifications.push(call),
    });
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close().catch(() => undefined)));
    await demo?.stop();
  });

  const url = (path: string): string => new URL(path, demo.url).href;
  const texts = (language: Language): FormTexts => {
    const found = demo.config.captcha.languages[language];
    if (found === undefined) throw new Error(`the demo config has no "${language}" texts`);
    return found;
  };

  /** The captcha page's tab title: the language's tab title, then the shop's name. */
  const tabTitle = (language: Language): string => `${texts(language).tab_title} · ${SHOP_NAME}`;

  /** A fresh browser profile speaking `language`; its pages' problems are recorded. */
  async function openPage(
    language: Language,
    screen: Screen = 'desktop',
    headers: Record<string, string> = {},
  ): Promise<{ page: Page; problems: PageProblem[] }> {
    if (browser === undefined) throw new Error('the browser did not start');
    const context = await browser.newContext({
      locale: LOCALES[language],
      viewport: VIEWPORTS[screen],
      extraHTTPHeaders: headers,
    });
    contexts.push(context);
    const problems = watchProblems(context);
    return { page: await context.newPage(), problems };
  }

  /** Loads the shop page DEMO_LIMIT times through the gateway, then once more: the captcha. */
  async function loadUntilThrottled(page: Page, path: string): Promise<Response> {
    for (let load = 1; load <= DEMO_LIMIT; load += 1) {
      const response = await page.goto(url(path));
      expect(response?.status(), `page load ${load} of ${path}`).to.equal(200);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(SHOP_HEADING);
    }
    const response = await page.goto(url(path));
    if (response === null) throw new Error(`no response for page load ${DEMO_LIMIT + 1}`);
    return response;
  }

  /** Opens the captcha page directly, as the gateway's redirect would, with `next` set. */
  async function openCaptchaPage(page: Page, next: string): Promise<Response> {
    const response = await page.goto(url(`/users/captcha/?next=${encodeURIComponent(next)}`));
    if (response === null) throw new Error('no response for the captcha page');
    await page.getByLabel(WIDGET_LABEL).waitFor({ state: 'visible' });
    return response;
  }

  /** Saves a full-page screenshot under test/artifacts/e2e/ and checks it is a real PNG of it. */
  async function saveScreenshot(page: Page, name: string, screen: Screen): Promise<void> {
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    const file = `${ARTIFACTS_DIR}${name}.png`;
    await rm(file, { force: true });
    await page.screenshot({ path: file, fullPage: true });
    const png = await readFile(file);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE), 'PNG signature').to.equal(true);
    expect(png.toString('latin1', 12, 16), 'first chunk').to.equal('IHDR');
    // The full page: the viewport's width, at least its height.
    expect(png.readUInt32BE(16), 'width').to.equal(VIEWPORTS[screen].width);
    expect(png.readUInt32BE(20), 'height').to.be.at.least(VIEWPORTS[screen].height);
    expect(png.length).to.be.greaterThan(MIN_SCREENSHOT_BYTES);
  }

  /** Submits the captcha form by clicking its button; resolves with the answer to the POST. */
  async function submit(page: Page, language: Language): Promise<Response> {
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: texts(language).submit }).click(),
    ]);
    return response;
  }

  it('sends the 6th page load to the captcha page; ticking the box returns the visitor to the shop page', async () => {
    const { page } = await openPage('en');

    const captcha = await loadUntilThrottled(page, SHOP_PAGE);
    const landed = new URL(page.url());
    expect(landed.pathname).to.equal(demo.config.captcha.redirect_path);
    expect(landed.searchParams.get('next')).to.equal(SHOP_PAGE);
    expect(captcha.status()).to.equal(200);
    // It got there by the gateway's redirect, not by a link.
    const redirect = await captcha.request().redirectedFrom()?.response();
    expect(redirect?.status()).to.equal(302);
    expect(redirect?.url()).to.equal(url(SHOP_PAGE));

    await page.getByLabel(WIDGET_LABEL).check();
    const posted = await submit(page, 'en');
    await page.waitForURL(url(SHOP_PAGE));

    expect(posted.status()).to.equal(302);
    expect(await posted.headerValue('location')).to.equal(SHOP_PAGE);
    expect(verifications).to.have.length(1);
    expect(verifications[0]?.success).to.equal(true);
    expect(verifications[0]?.response.startsWith(TEST_PASS_PREFIX)).to.equal(true);
    // The shop served the page again: its 6th visit, since the blocked load never reached it.
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(SHOP_HEADING);
    expect(await page.locator('footer').textContent()).to.match(
      new RegExp(`Served by the demo shop: visit #${DEMO_LIMIT + 1} of this page`),
    );
    expect(await page.title()).to.equal(`${SHOP_HEADING} · Demo shop`);
  });

  for (const language of ['tr', 'en'] as const) {
    for (const screen of ['desktop', 'mobile'] as const) {
      it(`shows the captcha page in ${language} by Accept-Language on a ${screen} screen, saved as a screenshot`, async () => {
        const { page } = await openPage(language, screen);
        const response = await openCaptchaPage(page, SHOP_PAGE);
        const expected = texts(language);

        expect(await page.title()).to.equal(tabTitle(language));
        expect(await page.getByRole('heading', { level: 1 }).innerText()).to.equal(
          expected.heading,
        );
        expect(await page.getByText(expected.explanation).isVisible()).to.equal(true);
        expect(await page.getByText(expected.instruction).isVisible()).to.equal(true);
        // The shop's logo, loaded from the shop through the CSP's img-src, named by its alt text.
        expect(await page.getByRole('img', { name: SHOP_NAME }).isVisible()).to.equal(true);
        expect(await page.evaluate<boolean>(LOGO_LOADED), 'logo loaded').to.equal(true);
        const button = page.getByRole('button', { name: expected.submit });
        expect(await button.isVisible()).to.equal(true);
        expect(await button.innerText()).to.equal(expected.submit);
        // The reference to quote to support is this answer's X-Request-Id.
        const requestId = await response.headerValue('x-request-id');
        expect(requestId).to.match(/^[\w-]{8,}$/);
        expect(await page.locator('footer code').innerText()).to.equal(requestId);
        expect(await page.locator('footer').innerText()).to.include(
          `${expected.reference}: ${requestId}`,
        );
        const support = page.getByRole('link', { name: expected.support });
        expect(await support.getAttribute('href')).to.equal(HELP_PATH);
        // The widget's stylesheet, loaded from the provider's origin, got past the page's CSP.
        const box = await page.getByLabel(WIDGET_LABEL).boundingBox();
        expect(box?.width).to.be.closeTo(STYLED_BOX_WIDTH_PX, 1);

        const fit = await page.evaluate<Fit>(MEASURE_FIT);
        expect(fit.scrollWidth, 'no horizontal scroll').to.be.at.most(fit.innerWidth);
        expect(fit.card.left, 'room for the shadow on the left').to.be.at.least(CARD_GAP_PX);
        expect(fit.innerWidth - fit.card.right, 'on the right').to.be.at.least(CARD_GAP_PX);
        expect(fit.widgetRoomPx, 'room for the widget').to.be.at.least(WIDEST_WIDGET_PX);

        await saveScreenshot(page, `captcha-page-${language}-${screen}`, screen);
      });
    }
  }

  it('fits a 360 px screen even with the longest request id a client may send', async () => {
    // The gateway keeps a client's X-Request-Id of up to 128 characters: one word with no hyphen
    // or dot where a line could break.
    const longId = `${'a1B2c3D4e5'.repeat(12)}F6g7H8i9`;
    expect(longId).to.have.length(128);
    const { page } = await openPage('tr', 'mobile', { 'x-request-id': longId });
    const response = await openCaptchaPage(page, SHOP_PAGE);

    expect(await response.headerValue('x-request-id')).to.equal(longId);
    expect(await page.locator('footer code').innerText()).to.equal(longId);
    const fit = await page.evaluate<Fit>(MEASURE_FIT);
    expect(fit.scrollWidth, 'no horizontal scroll').to.be.at.most(fit.innerWidth);
  });

  it('lets a throttled shopper open the support link', async () => {
    const { page } = await openPage('en', 'mobile');
    await loadUntilThrottled(page, SHOP_PAGE);
    await page.getByRole('link', { name: texts('en').support }).click();
    await page.waitForURL(url(HELP_PATH));
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Help');
    expect(await page.title()).to.equal(`Help · ${SHOP_NAME}`);
    // The logo the captcha page showed is the shop's own, served under an exempt path.
    expect((await page.request.get(url(LOGO_PATH))).headers()['content-type']).to.equal(
      'image/svg+xml',
    );
  });

  it('logs no console error, uncaught exception or CSP violation from the first load to the shop page', async () => {
    const { page, problems } = await openPage('tr');

    await loadUntilThrottled(page, SHOP_PAGE);
    await page.getByLabel(WIDGET_LABEL).waitFor({ state: 'visible' });
    await page.getByLabel(WIDGET_LABEL).check();
    await submit(page, 'tr');
    await page.waitForURL(url(SHOP_PAGE));

    expect(problems).to.deep.equal([]);
  });

  it('would notice a CSP violation on the captcha page (the watcher is not blind)', async () => {
    const { page, problems } = await openPage('en');
    await openCaptchaPage(page, SHOP_PAGE);

    // An image from an origin the policy does not list: Chromium refuses it and logs an error.
    const refused = page.waitForEvent('console', (message) => message.type() === 'error');
    await page.evaluate(ADD_FOREIGN_IMAGE);
    await refused;

    expect(problems.map((p) => p.text).join('\n')).to.match(/Content Security Policy/);
  });

  for (const language of ['tr', 'en'] as const) {
    it(`declares lang="${language}", labels the checkbox, and has a title and one h1`, async () => {
      const { page } = await openPage(language);
      await openCaptchaPage(page, SHOP_PAGE);
      const expected = texts(language);

      expect(await page.locator('html').getAttribute('lang')).to.equal(language);
      expect(await page.title()).to.equal(tabTitle(language));
      expect(await page.locator('h1').count()).to.equal(1);
      // The form is named by the heading (aria-labelledby), the box by its <label>.
      expect(await page.getByRole('form', { name: expected.heading }).count()).to.equal(1);
      const box = page.getByLabel(WIDGET_LABEL);
      expect(await box.count()).to.equal(1);
      expect(await box.getAttribute('type')).to.equal('checkbox');
      expect(await page.getByRole('checkbox', { name: WIDGET_LABEL }).count()).to.equal(1);
    });
  }

  it('lets a keyboard-only visitor pass: Tab to the box, Space, Tab to the submit button, Enter', async () => {
    const { page } = await openPage('en');
    await loadUntilThrottled(page, SHOP_PAGE);
    await page.getByLabel(WIDGET_LABEL).waitFor({ state: 'visible' });
    const focused = () => page.evaluate<ActiveElement>(ACTIVE_ELEMENT);

    await page.keyboard.press('Tab');
    expect(await focused()).to.deep.equal({ tag: 'INPUT', type: 'checkbox' });
    await page.keyboard.press('Space');
    expect(await page.getByLabel(WIDGET_LABEL).isChecked()).to.equal(true);
    await page.keyboard.press('Tab');
    expect(await focused()).to.deep.equal({ tag: 'BUTTON', type: 'submit' });
    expect(
      await page
        .getByRole('button', { name: texts('en').submit })
        .evaluate((button) => button === button.ownerDocument.activeElement),
    ).to.equal(true);

    await page.keyboard.press('Enter');
    await page.waitForURL(url(SHOP_PAGE));
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(SHOP_HEADING);
  });

  it('shows the failure text in an alert when the form is posted without ticking the box', async () => {
    const { page, problems } = await openPage('tr', 'mobile');
    await loadUntilThrottled(page, SHOP_PAGE);
    const captchaUrl = page.url();
    // The box is `required`, so the browser itself refuses an unticked form; a bot would not.
    await page.getByLabel(WIDGET_LABEL).evaluate((box) => box.removeAttribute('required'));

    const posted = await submit(page, 'tr');
    await page.getByRole('alert').waitFor();

    expect(posted.status()).to.equal(400);
    expect(page.url()).to.equal(captchaUrl);
    expect((await page.getByRole('alert').innerText()).trim()).to.equal(texts('tr').failed);
    // The page that came back names the POST's own request id.
    expect(await page.locator('footer code').innerText()).to.equal(
      await posted.headerValue('x-request-id'),
    );
    // Refused before the provider was asked (missing-input-response).
    expect(verifications).to.deep.equal([]);
    // Chromium logs the document's own 400 as a console error; nothing else may appear.
    expect(problems).to.deep.equal([{ kind: 'console', url: captchaUrl, text: DOCUMENT_400 }]);
    const fit = await page.evaluate<Fit>(MEASURE_FIT);
    expect(fit.scrollWidth, 'no horizontal scroll').to.be.at.most(fit.innerWidth);
    await saveScreenshot(page, 'captcha-page-failed-tr-mobile', 'mobile');
  });

  it('shows the failure text in an alert for a response the widget did not make, then lets the visitor pass', async () => {
    const { page } = await openPage('en');
    await loadUntilThrottled(page, SHOP_PAGE);
    await page.getByLabel(WIDGET_LABEL).check();
    // A forged answer in the field the widget fills: the provider's siteverify refuses it.
    await page
      .locator('input[name="g-recaptcha-response"]')
      .evaluate((field) => field.setAttribute('value', 'robot'));

    const refused = await submit(page, 'en');
    await page.getByRole('alert').waitFor();

    expect(refused.status()).to.equal(400);
    expect((await page.getByRole('alert').innerText()).trim()).to.equal(texts('en').failed);
    await saveScreenshot(page, 'captcha-page-failed-en-desktop', 'desktop');
    expect(verifications.map((v) => [v.response, v.success])).to.deep.equal([['robot', false]]);
    // Still throttled: the shop page, opened in another tab, sends the visitor to the captcha.
    const otherTab = await page.context().newPage();
    await otherTab.goto(url(SHOP_PAGE));
    expect(new URL(otherTab.url()).pathname).to.equal(demo.config.captcha.redirect_path);
    await otherTab.close();

    // The form is shown again with a fresh token and the same `next`; a real tick passes it.
    await page.getByLabel(WIDGET_LABEL).check();
    const passed = await submit(page, 'en');
    await page.waitForURL(url(SHOP_PAGE));
    expect(passed.status()).to.equal(302);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(SHOP_HEADING);
  });
});
