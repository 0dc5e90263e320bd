// Renders the captcha form: the storefront's JSON `html` fragment (byte-exact to CONTRACT §6) and
// a small standalone page. Everything but the token and `next` is rendered once, at start.
import { createHash } from 'node:crypto';
import type { ResolvedProvider } from './providers.js';

/** The texts of the form in one language. */
export interface FormTexts {
  readonly title: string;
  readonly submit: string;
  readonly failed: string;
}

export interface RenderOptions {
  readonly provider: ResolvedProvider;
  readonly siteKey: string;
  /** By lower-case language tag, e.g. `tr`, `en`. */
  readonly languages: Readonly<Record<string, FormTexts>>;
}

export interface CaptchaRenderer {
  /** The `html` fragment of CONTRACT §6; `next` (already checked by safeNext) adds a field. */
  fragment(language: string, token: string, next?: string): string;
  /** The JSON body `{"html": fragment}`, assembled from pre-escaped parts. */
  json(language: string, token: string, next?: string): string;
  /** The standalone page; `failed` shows the language's failure text in an alert. */
  page(language: string, token: string, next: string | undefined, failed: boolean): string;
  /** Content-Security-Policy for the page: the provider's origins and nothing else. */
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

// The page's only styling, inline so it costs no request, and allowed by its hash in the CSP (no
// 'unsafe-inline'). A customer who lands here should see a calm, readable card, not bare HTML.
const PAGE_STYLE =
  'body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;' +
  'color:#1d1d1f;background:#f4f4f6}' +
  'main{box-sizing:border-box;max-width:26rem;margin:10vh auto;padding:2rem 1.75rem;' +
  'background:#fff;border-radius:12px;box-shadow:0 2px 16px rgba(0,0,0,.08)}' +
  'h1{font-size:1.2rem;letter-spacing:.03em;margin:0 0 1.25rem}' +
  '[role=alert]{margin:0 0 1rem;padding:.75rem 1rem;border-radius:8px;color:#8a1020;' +
  'background:#fdecee}' +
  'button{display:block;width:100%;margin-top:1.25rem;padding:.75rem 1rem;font:inherit;' +
  'font-weight:600;color:#fff;background:#1a5fd0;border:0;border-radius:8px;cursor:pointer}' +
  'button:hover{background:#174fae}button:focus-visible{outline:3px solid #0b3d91;outline-offset:2px}';
const PAGE_STYLE_HASH = `'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'`;

// The hidden inputs are spelled as in the source document, page included: the storefront and
// scripts written against it match `name='…' value='…'` with single quotes.
const CSRF_INPUT_HEAD = "<input type='hidden' name='csrfmiddlewaretoken' value='";
const INPUT_CLOSE = "' />";
const NEXT_INPUT_HEAD = "\n  <input type='hidden' name='next' value='";

export function createRenderer({ provider, siteKey, languages }: RenderOptions): CaptchaRenderer {
  const widget = escapeHtml(provider.widgetClass);
  const key = escapeHtml(siteKey);
  const script = escapeHtml(provider.scriptUrl);

  const fragments = new Map<string, Template>();
  const jsonParts = new Map<string, Template>();
  const pages = new Map<string, Template>();
  const failedPages = new Map<string, Template>();

  for (const [language, texts] of Object.entries(languages)) {
    const title = escapeHtml(texts.title);
    const submit = escapeHtml(texts.submit);
    const fragment: Template = {
      head:
        `<h1 class="auth__form__title">\n  ${title}\n</h1>\n<form method="post">\n` +
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

    const pageHead = (failed: boolean): string =>
      '<!doctype html>\n' +
      `<html lang="${escapeHtml(language)}">\n<head>\n<meta charset="utf-8">\n` +
      '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
      '<meta name="robots" content="noindex">\n' +
      `<title>${title}</title>\n` +
      `<style>${PAGE_STYLE}</style>\n` +
      `<script src="${script}" async defer></script>\n` +
      '</head>\n<body>\n<main>\n' +
      `<h1 id="captcha-title">${title}</h1>\n` +
      (failed ? `<p role="alert">${escapeHtml(texts.failed)}</p>\n` : '') +
      '<form method="post" aria-labelledby="captcha-title">\n' +
      `  ${CSRF_INPUT_HEAD}`;
    const pageTail =
      `\n  <div class="${widget}" data-sitekey="${key}" id="id_captcha"></div>` +
      `\n  <button type="submit">${submit}</button>\n</form>\n</main>\n</body>\n</html>\n`;
    pages.set(language, { head: pageHead(false), close: INPUT_CLOSE, tail: pageTail });
    failedPages.set(language, { head: pageHead(true), close: INPUT_CLOSE, tail: pageTail });
  }

  const pick = (templates: Map<string, Template>, language: string): Template => {
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

    page(language, token, next, failed) {
      const { head, close, tail } = pick(failed ? failedPages : pages, language);
      const nextField = next === undefined ? '' : NEXT_INPUT_HEAD + escapeHtml(next) + INPUT_CLOSE;
      return head + escapeHtml(token) + close + nextField + tail;
    },

    contentSecurityPolicy: contentSecurityPolicy(provider),
  };
}

function contentSecurityPolicy({ csp }: ResolvedProvider): string {
  const directives = [
    // Nothing the provider does not document: no inline script or style, no other origin.
    "default-src 'none'",
    `script-src ${csp.script.join(' ')}`,
    `frame-src ${csp.frame.join(' ')}`,
  ];
  directives.push(`style-src ${[PAGE_STYLE_HASH, ...csp.style].join(' ')}`);
  if (csp.connect.length > 0) directives.push(`connect-src ${csp.connect.join(' ')}`);
  directives.push("form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'");
  return directives.join('; ');
}
