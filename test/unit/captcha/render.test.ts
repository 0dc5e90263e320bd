// Checks the captcha form's markup: the storefront's fragment byte for byte, an accessible page
// that names the shop and shows the request id, and every configured or per-request value escaped.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { resolveProvider } from '../../../gateway/captcha/providers.js';
import { createRenderer, escapeHtml, type PageRequest } from '../../../gateway/captcha/render.js';
import { configFrom } from './fixtures.js';

// The storefront's own regular expressions (@akinon/next data/client/user.ts, getCaptcha).
const SITE_KEY_RE = /sitekey=["|']\w+/gi;
const CSRF_RE = /name=['|"]csrfmiddlewaretoken['|"] value=['|"]\w+/gi;

const SHOP_PAGE = `
captcha:
  site_key: 6LcSiteKey_1
  page:
    shop_name: Örnek Mağaza
    logo_url: https://cdn.shop.example:8443/img/logo.svg?v=2
    accent_color: '#0f766e'
    support_url: https://shop.example/help/
`;

function rendererFor(yaml = 'captcha: { site_key: 6LcSiteKey_1 }') {
  const config = configFrom(yaml);
  return createRenderer({
    provider: resolveProvider(config.captcha),
    siteKey: config.captcha.site_key,
    languages: config.captcha.languages,
    page: config.captcha.page,
  });
}

const request = (fields: Partial<PageRequest> = {}): PageRequest => ({
  token: 'abc123',
  next: undefined,
  failed: false,
  requestId: 'req-1',
  ...fields,
});

/** The one inline stylesheet of a page, and its CSP hash. */
function styleOf(page: string): { style: string; hash: string } {
  const style = /<style>([^<]*)<\/style>/.exec(page)![1]!;
  return { style, hash: `'sha256-${createHash('sha256').update(style).digest('base64')}'` };
}

describe('createRenderer', () => {
  const renderer = rendererFor();
  const shop = rendererFor(SHOP_PAGE);

  it("renders the Turkish fragment byte for byte in the commerce platform's markup", () => {
    expect(renderer.fragment('tr', 'abc123')).to.equal(
      '<h1 class="auth__form__title">\n  Devam etmek için insan olduğunuzu doğrulayın\n</h1>\n' +
        '<form method="post">\n' +
        "  <input type='hidden' name='csrfmiddlewaretoken' value='abc123' />\n" +
        '  <div class="g-recaptcha" data-sitekey="6LcSiteKey_1" id="id_captcha" required></div>\n' +
        '  <script type="text/javascript" src="https://www.google.com/recaptcha/api.js"></script>\n' +
        '  <input type="submit" value="Devam et">\n</form>',
    );
  });

  it("keeps the storefront's fragment and JSON the same whatever the page shows", () => {
    for (const language of ['tr', 'en']) {
      for (const next of [undefined, '/basket/']) {
        expect(shop.fragment(language, 'ab12', next)).to.equal(
          renderer.fragment(language, 'ab12', next),
        );
        expect(shop.json(language, 'ab12', next)).to.equal(renderer.json(language, 'ab12', next));
      }
    }
    expect(shop.json('en', 'ab12')).to.not.match(/Örnek|\\u00d6rnek|logo|shop\.example|Reference/);
  });

  it('adds a next field right after the csrf field', () => {
    expect(renderer.fragment('en', 'abc123', '/basket/?x=1')).to.include(
      "value='abc123' />\n  <input type='hidden' name='next' value='/basket/?x=1' />\n  <div",
    );
  });

  it('renders the JSON body as {"html": fragment} and nothing else, with and without next', () => {
    for (const next of [undefined, '/a?b=c&d=e']) {
      const body = renderer.json('tr', 'ff00', next);
      expect(body.startsWith('{"html":"<h1 class=\\"auth__form__title\\">\\n  ')).to.equal(true);
      expect(body.endsWith('\\n</form>"}')).to.equal(true);
      expect(JSON.parse(body)).to.deep.equal({ html: renderer.fragment('tr', 'ff00', next) });
    }
  });

  it('writes the JSON body in ASCII alone, \\u-escaping what is not, to the same texts', () => {
    const next = '/ürün/ağaç?q=😀';
    const body = renderer.json('tr', 'ff00', next);
    expect(body).to.match(/^[\x20-\x7e]*$/);
    expect(body).to.include('\\u0131'); // ı
    expect(JSON.parse(body)).to.deep.equal({ html: renderer.fragment('tr', 'ff00', next) });
  });

  it('escapes a token that is not letters and digits alone, in the page and in the JSON', () => {
    const token = `x'" /><script>\u2028`;
    const { html } = JSON.parse(renderer.json('en', token)) as { html: string };
    expect(html).to.equal(renderer.fragment('en', token));
    expect(html).to.include("value='x&#39;&quot; /&gt;&lt;script&gt;\u2028' />");
    expect(renderer.page('en', request({ token }))).to.include(
      "value='x&#39;&quot; /&gt;&lt;script&gt;\u2028' />",
    );
  });

  it("lets the storefront's regexes extract the site key and the token", () => {
    const { html } = JSON.parse(shop.json('tr', '0123abcdef')) as { html: string };
    const siteKey = html.match(SITE_KEY_RE)?.[0]?.replace(/sitekey=["|']/i, '');
    const token = html.match(CSRF_RE)?.[0]?.replace(/^.*value=['|"]/i, '');
    expect(siteKey).to.equal('6LcSiteKey_1');
    expect(token).to.equal('0123abcdef');
  });

  it('uses the widget class of each provider', () => {
    const cases: [string, string][] = [
      ['hcaptcha', 'h-captcha'],
      ['turnstile', 'cf-turnstile'],
      [
        'test\n  verify_url: http://127.0.0.1:1/siteverify\n  script_url: http://127.0.0.1:1/w.js',
        'test-captcha',
      ],
    ];
    for (const [provider, widgetClass] of cases) {
      const html = rendererFor(`captcha:\n  provider: ${provider}`).fragment('en', 'aa');
      expect(html).to.include(`<div class="${widgetClass}" data-sitekey=""`);
    }
  });

  it('escapes every text, the shop name, the URLs and the site key that try to inject markup', () => {
    const attack = '<img src=x onerror=alert(1)>';
    const quoted = '" autofocus onfocus="alert(1)';
    const evil = rendererFor(`
captcha:
  site_key: "\\"><script>alert(1)</script>"
  page:
    shop_name: '${quoted}</title><script>alert(1)</script>'
    logo_url: '/logo.svg"onerror="alert(1)'
    support_url: "/help/'><script>alert(1)</script>"
  languages:
    en:
      heading: "${attack}"
      tab_title: "</title>${attack}"
      explanation: "${attack}"
      instruction: "${attack}"
      submit: '${quoted}'
      failed: "<b>no</b>"
      reference: "${attack}"
      support: "${attack}"
  default_language: en
`);
    const page = evil.page('en', request({ failed: true, requestId: '"><b>id</b>' }));
    for (const html of [evil.fragment('en', 'aa'), page]) {
      expect(html).to.not.include('<script>alert(1)');
      expect(html).to.not.include('<img src=x');
      expect(html).to.not.include('" autofocus');
      expect(html).to.not.include('<b>');
      expect(html).to.include('&lt;img src=x onerror=alert(1)&gt;');
      expect(html).to.include('&quot; autofocus onfocus=&quot;alert(1)');
    }
    expect(page).to.not.include('</title><');
    expect(page.match(/<\/title>/g)).to.have.length(1);
    expect(page).to.include(
      '<img src="/logo.svg&quot;onerror=&quot;alert(1)" alt="&quot; autofocus',
    );
    expect(page).to.include('<a href="/help/&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">');
    expect(page).to.include('<code>&quot;&gt;&lt;b&gt;id&lt;/b&gt;</code>');
    // Every value the page shows was escaped: its only elements are the template's own.
    const tags = new Set([...page.matchAll(/<([a-z0-9]+)[\s>]/g)].map((m) => m[1]));
    expect([...tags].sort()).to.deep.equal(
      [
        'a',
        'body',
        'button',
        'code',
        'div',
        'footer',
        'form',
        'h1',
        'head',
        'header',
        'html',
        'img',
        'input',
        'main',
        'meta',
        'p',
        'script',
        'style',
        'title',
      ].sort(),
    );
  });

  it("escapes a next that tries to break out of its attribute with '", () => {
    const next = "/x'><script>alert(1)</script>";
    for (const html of [
      renderer.fragment('tr', 'aa', next),
      renderer.page('tr', request({ next })),
    ]) {
      expect(html).to.not.include('<script>alert(1)');
      expect(html).to.include("value='/x&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;' />");
    }
  });

  it('renders a complete, accessible page in the chosen language', () => {
    const page = renderer.page('en', request({ next: '/basket/' }));
    expect(page.startsWith('<!doctype html>\n<html lang="en">')).to.equal(true);
    expect(page).to.include('<meta charset="utf-8">');
    expect(page).to.include('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(page).to.include('<title>Security check</title>');
    expect(page).to.match(
      /<main>\n<h1 id="captcha-title">Confirm you are human to continue<\/h1>\n<p>We saw unusual traffic from your network\. [^<]+<\/p>\n<p>Complete the check below, [^<]+<\/p>\n<form/,
    );
    expect(page.match(/<h1/g)).to.have.length(1);
    expect(page).to.include('<form method="post" aria-labelledby="captcha-title">');
    expect(page).to.include('<button type="submit">Continue</button>');
    expect(page).to.include("name='csrfmiddlewaretoken' value='abc123'");
    expect(page).to.include("name='next' value='/basket/'");
    expect(page).to.include('<div class="g-recaptcha" data-sitekey="6LcSiteKey_1"');
    expect(page).to.include('<footer>\n  <p>Reference: <code>req-1</code></p>\n</footer>');
    // No shop name, logo or support link unless configured.
    expect(page).to.not.match(/<header|<img|<a /);
    expect(page).to.not.include('role="alert"');
    // Nothing inline the CSP would have to allow, but the one stylesheet it allows by hash.
    expect(page.match(/<style>/g)).to.have.length(1);
    expect(page).to.not.match(/\sstyle=|<script>|\son\w+=/);
  });

  it("names the shop by its logo, titles the tab with the shop's name, links to support", () => {
    const page = shop.page('tr', request({ requestId: 'Zx9-42' }));
    expect(page).to.include('<title>Güvenlik kontrolü · Örnek Mağaza</title>');
    expect(page).to.include(
      '<main>\n<header><img src="https://cdn.shop.example:8443/img/logo.svg?v=2" alt="Örnek Mağaza"></header>\n<h1',
    );
    expect(page).to.include(
      '<footer>\n  <p>Referans: <code>Zx9-42</code></p>\n' +
        '  <a href="https://shop.example/help/">Destek ile iletişime geçin</a>\n</footer>',
    );
    const named = rendererFor('captcha: { page: { shop_name: "Shop & Co" } }');
    const plain = named.page('en', request());
    expect(plain).to.include('<main>\n<header>Shop &amp; Co</header>\n<h1');
    expect(plain).to.include('<title>Security check · Shop &amp; Co</title>');
  });

  it('titles the tab with the heading when a language has no tab_title', () => {
    const page = rendererFor(`
captcha:
  default_language: de
  languages:
    de: { heading: Bitte bestätigen, explanation: E, instruction: I, submit: Weiter, failed: F, reference: Referenz }
`).page('de', request());
    expect(page).to.include('<title>Bitte bestätigen</title>');
    expect(page).to.include('<html lang="de">');
  });

  it('puts the request id of each answer in its page', () => {
    expect(renderer.page('en', request({ requestId: 'first' }))).to.include('<code>first</code>');
    expect(renderer.page('en', request({ requestId: 'second' }))).to.include('<code>second</code>');
    expect(renderer.page('en', request({ requestId: 'third', failed: true }))).to.include(
      '<code>third</code>',
    );
  });

  it('shows the failure text in an alert when re-shown after a failed verification', () => {
    const page = renderer.page('tr', request({ failed: true }));
    expect(page).to.include('<html lang="tr">');
    expect(page).to.include('<p role="alert">Doğrulama başarısız, lütfen tekrar deneyin.</p>');
  });

  it('writes texts in sentence case: no heading, title or button in capitals', () => {
    for (const language of ['tr', 'en']) {
      const page = renderer.page(language, request({ failed: true }));
      const texts = [...page.matchAll(/>([^<>]+)</g)].map((m) => m[1]!.trim());
      for (const text of texts.filter((t) => /\p{L}{3}/u.test(t) && !t.includes('{'))) {
        expect(text, `${language}: ${text}`).to.not.equal(text.toLocaleUpperCase(language));
      }
    }
  });

  it("allows only the provider's origins in the CSP, and the page's own style by its hash", () => {
    const { hash } = styleOf(renderer.page('en', request()));
    expect(renderer.contentSecurityPolicy).to.equal(
      "default-src 'none'; " +
        'script-src https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/; ' +
        'frame-src https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/; ' +
        `style-src ${hash}; ` +
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    const hcaptcha = rendererFor('captcha: { provider: hcaptcha }').contentSecurityPolicy;
    expect(hcaptcha).to.match(
      /style-src 'sha256-[A-Za-z0-9+/=]+' https:\/\/hcaptcha\.com https:\/\/\*\.hcaptcha\.com;/,
    );
    expect(hcaptcha).to.include('connect-src https://hcaptcha.com https://*.hcaptcha.com');
    const test = rendererFor(
      'captcha: { provider: test, verify_url: "http://127.0.0.1:1/v", script_url: "http://127.0.0.1:7/w.js" }',
    ).contentSecurityPolicy;
    expect(test).to.include('script-src http://127.0.0.1:7;');
    expect(test).to.include('frame-src http://127.0.0.1:7;');
  });

  it("allows the logo's origin alone in img-src: its https origin, or 'self' for a path", () => {
    expect(shop.contentSecurityPolicy).to.include('; img-src https://cdn.shop.example:8443; ');
    const local = rendererFor('captcha: { page: { shop_name: S, logo_url: /static/logo.svg } }');
    expect(local.contentSecurityPolicy).to.include("; img-src 'self'; ");
    expect(renderer.contentSecurityPolicy).to.not.include('img-src');
    for (const csp of [shop.contentSecurityPolicy, local.contentSecurityPolicy]) {
      expect(csp).to.not.include('unsafe-inline');
    }
  });

  it('hashes the stylesheet with its accent colour, and keeps the button readable on it', () => {
    const { style, hash } = styleOf(shop.page('en', request()));
    expect(shop.contentSecurityPolicy).to.include(`style-src ${hash};`);
    expect(style).to.include('background:#0f766e');
    expect(/button\{[^}]*[^-]color:(#[0-9a-f]+)/.exec(style)?.[1]).to.equal('#ffffff');
    const yellow = rendererFor("captcha: { page: { accent_color: '#FC0' } }").page('en', request());
    const light = styleOf(yellow).style;
    expect(light).to.include('background:#ffcc00');
    // Near-black text on yellow; links fall back to the text colour (yellow on white is unreadable).
    expect(/button\{[^}]*[^-]color:(#[0-9a-f]+)/.exec(light)?.[1]).to.equal('#1d1d1f');
    expect(light).to.include('a{color:#1d1d1f}');
  });

  it('refuses a language it has no texts for rather than rendering an empty form', () => {
    expect(() => renderer.fragment('de', 'aa')).to.throw(/no captcha texts/);
    expect(() => renderer.page('de', request())).to.throw(/no captcha texts/);
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML-special characters and nothing else', () => {
    expect(escapeHtml(`&<>"'İ/`)).to.equal('&amp;&lt;&gt;&quot;&#39;İ/');
  });
});
