// What differs between captcha providers: widget class, script and siteverify URLs, and the
// Content-Security-Policy sources each one documents; resolves the config's '' defaults.
import type { Config, Provider } from '../config/schema.js';

/** CSP source lists the captcha page needs for one provider. */
export interface CspSources {
  readonly script: readonly string[];
  readonly frame: readonly string[];
  readonly style: readonly string[];
  readonly connect: readonly string[];
}

interface ProviderTraits {
  /** The class the provider's script looks for to render its widget. */
  readonly widgetClass: string;
  /** '' when the provider has no public default (the config then requires one). */
  readonly scriptUrl: string;
  readonly verifyUrl: string;
  readonly csp: CspSources;
}

const NONE: readonly string[] = [];

// CSP sources as each provider documents them:
// reCAPTCHA FAQ "I'm using Content-Security-Policy (CSP)…" — script: google.com + gstatic.com
// under /recaptcha/, frame: google.com + recaptcha.google.com under /recaptcha/.
// hCaptcha "Content Security Policy Settings" — hcaptcha.com and *.hcaptcha.com for script,
// frame, style and connect. Turnstile "Content Security Policy" — challenges.cloudflare.com for
// script and frame.
const TRAITS: Readonly<Record<Provider, ProviderTraits>> = {
  recaptcha: {
    widgetClass: 'g-recaptcha',
    scriptUrl: 'https://www.google.com/recaptcha/api.js',
    verifyUrl: 'https://www.google.com/recaptcha/api/siteverify',
    csp: {
      script: ['https://www.google.com/recaptcha/', 'https://www.gstatic.com/recaptcha/'],
      frame: ['https://www.google.com/recaptcha/', 'https://recaptcha.google.com/recaptcha/'],
      style: NONE,
      connect: NONE,
    },
  },
  hcaptcha: {
    widgetClass: 'h-captcha',
    scriptUrl: 'https://js.hcaptcha.com/1/api.js',
    verifyUrl: 'https://api.hcaptcha.com/siteverify',
    csp: {
      script: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
      frame: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
      style: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
      connect: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
    },
  },
  turnstile: {
    widgetClass: 'cf-turnstile',
    scriptUrl: 'https://challenges.cloudflare.com/turnstile/v0/api.js',
    verifyUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
    csp: {
      script: ['https://challenges.cloudflare.com'],
      frame: ['https://challenges.cloudflare.com'],
      style: NONE,
      connect: NONE,
    },
  },
  // The local test provider (demo, integration tests): everything comes from its script's origin.
  test: {
    widgetClass: 'test-captcha',
    scriptUrl: '',
    verifyUrl: '',
    csp: { script: NONE, frame: NONE, style: NONE, connect: NONE },
  },
};

/** The provider with every default filled in. */
export interface ResolvedProvider {
  readonly name: Provider;
  readonly widgetClass: string;
  readonly scriptUrl: string;
  readonly verifyUrl: string;
  readonly csp: CspSources;
}

export function resolveProvider(captcha: Config['captcha']): ResolvedProvider {
  const traits = TRAITS[captcha.provider];
  const scriptUrl = captcha.script_url || traits.scriptUrl;
  const verifyUrl = captcha.verify_url || traits.verifyUrl;
  if (scriptUrl === '' || verifyUrl === '') {
    // The config schema refuses this; reaching it means a Config was built around the schema.
    throw new Error(`captcha provider "${captcha.provider}" needs script_url and verify_url`);
  }
  // A script served from elsewhere (reCAPTCHA from www.recaptcha.net, a self-hosted test widget)
  // loads from and frames its own origin, so that origin joins the lists.
  const custom = captcha.script_url === '' ? [] : [new URL(scriptUrl).origin];
  const isTest = captcha.provider === 'test';
  const csp: CspSources = {
    script: unique([...traits.csp.script, ...custom]),
    frame: unique([...traits.csp.frame, ...custom]),
    style: unique([...traits.csp.style, ...(isTest ? custom : [])]),
    connect: unique([...traits.csp.connect, ...(isTest ? custom : [])]),
  };
  return { name: captcha.provider, widgetClass: traits.widgetClass, scriptUrl, verifyUrl, csp };
}

function unique(values: readonly string[]): readonly string[] {
  return [...new Set(values)];
}
