// Starts Debian's Chromium through playwright-core for the end-to-end suites, and watches pages
// for console errors, uncaught exceptions and CSP violations. Never downloads a browser.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage } from 'playwright-core';

/** Debian's `chromium` package; CHROMIUM_PATH points elsewhere (e.g. a macOS install). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Headless, as root (no sandbox), and silent on the network: without the background-networking
// flags Chromium calls Google's hosts on its own, and the suites may only reach loopback.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** CI (or REQUIRE_BROWSER=1) must run the browser suites: a missing Chromium fails them there. */
export function browserRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  // CI services set CI=true (or 1); CI=false or CI=0 is someone switching it off.
  const ci = (env.CI ?? '').trim().toLowerCase();
  return (ci !== '' && ci !== 'false' && ci !== '0') || env.REQUIRE_BROWSER === '1';
}

export type ChromiumAvailability =
  { readonly kind: 'present' } | { readonly kind: 'missing'; readonly message: string };

/** Whether the browser binary is there, with the fix spelled out when it is not. */
export function chromiumAvailability(): ChromiumAvailability {
  if (existsSync(CHROMIUM_PATH)) return { kind: 'present' };
  return {
    kind: 'missing',
    message:
      `no Chromium at ${CHROMIUM_PATH}: install Debian's package (apt-get install chromium) ` +
      'or set CHROMIUM_PATH to a Chromium or Chrome binary',
  };
}

/**
 * For a suite's `before` hook: skips the suite without Chromium, or fails it where the browser is
 * required (CI, REQUIRE_BROWSER=1), with the fix spelled out.
 */
export function requireChromium(context: Mocha.Context): void {
  const availability = chromiumAvailability();
  if (availability.kind === 'present') return;
  if (browserRequired()) {
    throw new Error(`${availability.message} (required here: CI or REQUIRE_BROWSER=1 is set)`);
  }
  console.warn(`    SKIPPED the browser suite: ${availability.message}`);
  context.skip();
}

/** Launches the browser; a binary that is present but does not start is an error, never a skip. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 15_000 });
}

/** One problem a page reported while it was watched. */
export interface PageProblem {
  readonly kind: 'console' | 'pageerror';
  readonly url: string;
  readonly text: string;
}

/**
 * Records every console error (Chromium reports a CSP violation as one: "Refused to load …
 * because it violates the following Content Security Policy directive"), any console message that
 * names the Content Security Policy, and every uncaught exception, from every page opened in
 * `context` after this call.
 */
export function watchProblems(context: BrowserContext): PageProblem[] {
  const problems: PageProblem[] = [];
  const onConsole = (message: ConsoleMessage) => {
    const text = message.text();
    if (message.type() === 'error' || /Content Security Policy/i.test(text)) {
      problems.push({ kind: 'console', url: message.page()?.url() ?? '', text });
    }
  };
  context.on('console', onConsole);
  context.on('page', (page) => {
    page.on('pageerror', (error) => {
      problems.push({ kind: 'pageerror', url: page.url(), text: String(error) });
    });
  });
  return problems;
}
