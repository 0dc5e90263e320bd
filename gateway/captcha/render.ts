// Renders the captcha form: the storefront's JSON `html` fragment (byte for byte the commerce
// platform's markup) and the standalone page a shopper's browser is sent to. Everything but the
// token, `next` and the request id is rendered once, at start.
import { createHash } from 'node:crypto';
import { pageStyle } from './page-style.js';
import type { ResolvedProvider } from './providers.js';

/** The texts of the form in one language (see `captcha.languages` in config/default.yaml). */
export interface FormTexts {
  /** The form's h1, on the page and in the storefront's fragment. */
  readonly heading: string;
  /** The browser tab; '' → the heading. The shop's name follows it. */
  readonly tab_title: string;
  /** Why the shopper is here. */
  readonly explanation: string;
  /** What to do. */
  readonly instruction: string;
  readonly submit: string;
  /** Shown in an alert when the form comes back after a failed verification. */
  readonly failed: string;
  /** The label before the request id, the reference to quote to support. */
  readonly reference: string;
  /** The support link's text; used only with a support URL. */
  readonly support: string;
}

/** The shop's own touches on the page (`captcha.page`); URLs and colour checked by the config. */
export interface PageOptions {
  /** '' → no name shown. */
  readonly shop_name: string;
  /** An https URL or a path on this site; '' → no logo. Needs shop_name (its alt text). */
  readonly logo_url: string;
  /** A CSS hex colour: the button, the card's top edge and (when readable) links. */
  readonly accent_color: string;
  /** An https URL, a path on this site or a mailto: address; '' → no support link. */
  readonly support_url: string;
}

export interface RenderOptions {
  readonly provider: ResolvedProvider;
  readonly siteKey: string;
  /** By lower-case language tag, e.g. `tr`, `en`. */
  readonly languages: Readonly<Record<string, FormTexts>>;
  readonly page: PageOptions;
}

/** What one page shows that differs per request. */
export interface PageRequest {
  /** The CSRF token of the form. */
  readonly token: string;
  /** Already checked by safeNext; adds a hidden field. */
  readonly next: string | undefined;
  /** Shows the language's failure text in an alert. */
  readonly failed: boolean;
  /** The answer's X-Request-Id, shown as the reference to quote to support. */
  readonly requestId: string;
}

export interface CaptchaRenderer {
  /** The storefront's `html` fragment; `next` (already checked by safeNext) adds a field. */
  fragment(language: string, token: string, next?: string): string;
  /** The JSON body `{"html": fragment}`, assembled from pre-escaped parts. */
  json(language: string, token: string, next?: string): string;
  /** The standalone page. */
  page(language: string, request: PageRequest): string;
  /** Content-Security-Policy for the page: the provider's origins, the logo's, nothing else. */
  readonly contentSecurityPolicy: string;
}

const HTML_SPECIAL = /[&<>"']/;
const HTML_SPECIAL_ALL = /[&<>"']/g;
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for an HTML text node or a quoted attribute (either quote). */
export function escapeHtml(value: string): string {
  return HTML_SPECIAL.test(value)
    ? value.replace(HTML_SPECIAL_ALL, (c) => ENTITIES[c] ?? c)
    : value;
}

// What jsonInner has to rewrite: what JSON.stringify escapes (quote, backslash, control
// characters, lone surrogates) and anything outside ASCII. One test, so most values cost one scan.
// eslint-disable-next-line no-control-regex
const NEEDS_JSON_WORK = /["\\\u0000-\u001f\u0080-\uffff]/;
const NON_ASCII = /[\u0080-\uffff]/g;

/**
 * The inside of a JSON string literal for `value`: JSON escaping works per character, so the
 * escaped parts of a string concatenate to the escaped string. Non-ASCII is written as \uXXXX
 * (the same string to any JSON parser), so the body is a one-byte string: cheaper to measure
 * and to write to the socket than a two-byte one (Turkish texts have İ).
 */
function jsonInner(value: string): string {
  if (!NEEDS_JSON_WORK.test(value)) return value;
  return JSON.stringify(value)
    .slice(1, -1)
    .replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A rendering split around its per-request values: head + token + close + [next field] + tail. */
interface Template {
  readonly head: string;
  /** Closes the csrf input; the optional next field follows it. */
  readonly close: string;
  readonly tail: string;
}

/** The page: a Template whose tail is split once more around the request id. */
interface PageTemplate extends Template {
  /** After the request id. */
  readonly end: string;
}

// The hidden inputs are spelled as in the source document, page included: the storefront and
// scripts written against it match `name='…' value='…'` with single quotes.
const CSRF_INPUT_HEAD = "<input type='hidden' name='csrfmiddlewaretoken' value='";
const INPUT_CLOSE = "' />";
const NEXT_INPUT_HEAD = "\n  <input type='hidden' name='next' value='";

export function createRenderer({
  provider,
  siteKey,
  languages,
  page: look,
}: RenderOptions): CaptchaRenderer {
  const widget = escapeHtml(provider.widgetClass);
  const key = escapeHtml(siteKey);
  const script = escapeHtml(provider.scriptUrl);
  const style = pageStyle(look.accent_color);
  const styleHash = `'sha256-${createHash('sha256').update(style).digest('base64')}'`;
  const shop = shopHeader(look);

  const fragments = new Map<string, Template>();
  const jsonParts = new Map<string, Template>();
  const pages = new Map<string, PageTemplate>();
  const failedPages = new Map<string, PageTemplate>();

  for (const [language, texts] of Object.entries(languages)) {
    const heading = escapeHtml(texts.heading);
    const submit = escapeHtml(texts.submit);
    const fragment: Template = {
      head:
        `<h1 class="auth__form__title">\n  ${heading}\n</h1>\n<form method="post">\n` +
        `  ${CSRF_INPUT_HEAD}`,
      close: INPUT_CLOSE,
      tail:
        `\n  <div class="${widget}" data-sitekey="${key}" id="id_captcha" required></div>` +
        `\n  <script type="text/javascript" src="${script}"></script>` +
        `\n  <input type="submit" value="${submit}">\n</form>`,
    };
    fragments.set(language, fragment);
    jsonParts.set(language, {
      head: '{"html":"' + jsonInner(fragment.head),
      close: jsonInner(fragment.close),
      tail: jsonInner(fragment.tail) + '"}',
    });

    const tabTitle = texts.tab_title.trim() === '' ? texts.heading : texts.tab_title;
    const title = look.shop_name.trim() === '' ? tabTitle : `${tabTitle} · ${look.shop_name}`;
    const support =
      look.support_url === ''
        ? ''
        : `\n  <a href="${escapeHtml(look.support_url)}">${escapeHtml(texts.support)}</a>`;
    const pageHead = (failed: boolean): string =>
      '<!doctype html>\n' +
      `<html lang="${escapeHtml(language)}">\n<head>\n<meta charset="utf-8">\n` +
      '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
      '<meta name="robots" content="noindex">\n' +
      `<title>${escapeHtml(title)}</title>\n` +
      `<style>${style}</style>\n` +
      `<script src="${script}" async defer></script>\n` +
      '</head>\n<body>\n<main>\n' +
      shop +
      `<h1 id="captcha-title">${heading}</h1>\n` +
      `<p>${escapeHtml(texts.explanation)}</p>\n` +
      `<p>${escapeHtml(texts.instruction)}</p>\n` +
      (failed ? `<p role="alert">${escapeHtml(texts.failed)}</p>\n` : '') +
      '<form method="post" aria-labelledby="captcha-title">\n' +
      `  ${CSRF_INPUT_HEAD}`;
    const pageTail =
      `\n  <div class="${widget}" data-sitekey="${key}" id="id_captcha"></div>` +
      `\n  <button type="submit">${submit}</button>\n</form>\n` +
      `<footer>\n  <p>${escapeHtml(texts.reference)}: <code>`;
    const pageEnd = `</code></p>${support}\n</footer>\n</main>\n</body>\n</html>\n`;
    pages.set(language, {
      head: pageHead(false),
      close: INPUT_CLOSE,
      tail: pageTail,
      end: pageEnd,
    });
    failedPages.set(language, {
      head: pageHead(true),
      close: INPUT_CLOSE,
      tail: pageTail,
      end: pageEnd,
    });
  }

  const pick = <T>(templates: Map<string, T>, language: string): T => {
    const template = templates.get(language);
    if (template === undefined) throw new Error(`no captcha texts for language "${language}"`);
    return template;
  };

  return {
    fragment(language, token, next) {
      const { head, close, tail } = pick(fragments, language);
      const nextField = next === undefined ? '' : NEXT_INPUT_HEAD + escapeHtml(next) + INPUT_CLOSE;
      return head + escapeHtml(token) + close + nextField + tail;
    },

    json(language, token, next) {
      const { head, close, tail } = pick(jsonParts, language);
      const nextField =
        next === undefined ? '' : jsonInner(NEXT_INPUT_HEAD + escapeHtml(next) + INPUT_CLOSE);
      return head + jsonInner(escapeHtml(token)) + close + nextField + tail;
    },

    page(language, { token, next, failed, requestId }) {
      const { head, close, tail, end } = pick(failed ? failedPages : pages, language);
      const nextField = next === undefined ? '' : NEXT_INPUT_HEAD + escapeHtml(next) + INPUT_CLOSE;
      return head + escapeHtml(token) + close + nextField + tail + escapeHtml(requestId) + end;
    },

    contentSecurityPolicy: contentSecurityPolicy(provider, styleHash, look.logo_url),
  };
}

/** The shop's logo (standing for its name) or its name, above the heading; '' for neither. */
function shopHeader({ shop_name: name, logo_url: logo }: PageOptions): string {
  if (logo !== '') {
    return `<header><img src="${escapeHtml(logo)}" alt="${escapeHtml(name)}"></header>\n`;
  }
  return name.trim() === '' ? '' : `<header>${escapeHtml(name)}</header>\n`;
}

function contentSecurityPolicy(
  { csp }: ResolvedProvider,
  styleHash: string,
  logoUrl: string,
): string {
  const directives = [
    // Nothing the provider does not document: no inline script or style, no other origin.
    "default-src 'none'",
    `script-src ${csp.script.join(' ')}`,
    `frame-src ${csp.frame.join(' ')}`,
  ];
  directives.push(`style-src ${[styleHash, ...csp.style].join(' ')}`);
  if (csp.connect.length > 0) directives.push(`connect-src ${csp.connect.join(' ')}`);
  // The logo's origin only: a path is this site ('self'), an https URL its scheme, host and port
  // (the config allows nothing else, so the origin holds no space or ';' to break the policy).
  if (logoUrl !== '') {
    directives.push(`img-src ${logoUrl.startsWith('/') ? "'self'" : new URL(logoUrl).origin}`);
  }
  directives.push("form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'");
  return directives.join('; ');
}
