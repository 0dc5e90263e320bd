import { createHash } from 'node:crypto';
// Checks the captcha form's markup: byte-exact fragment for the storefront, an accessible page,
// and every value escaped.
import { expect } from 'chai';
import { resolveProvider } from '../../../gateway/captcha/providers.js';
import { createRenderer, escapeHtml } from '../../../gateway/captcha/render.js';
import { configFrom } from './fixtures.js';

// The storefront's own regular expressions (@akinon/next data/client/user.ts, getCaptcha).
const SITE_KEY_RE = /sitekey=["|']\w+/gi;
const CSRF_RE = /name=['|"]csrfmiddlewaretoken['|"] value=['|"]\w+/gi;

function rendererFor(yaml = 'captcha: { site_key: 6LcSiteKey_1 }') {
  const config = configFrom(yaml);
  return createRenderer({
    provider: resolveProvider(config.captcha),
    siteKey: config.captcha.site_key,
    languages: config.captcha.languages,
  });
}

describe('createRenderer', () => {
  const renderer = rendererFor();

  it('renders the Turkish fragment byte for byte as CONTRACT §6', () => {
    expect(renderer.fragment('tr', 'abc123')).to.equal(
      '<h1 class="auth__form__title">\n  DEVAM ETMEK İÇİN\n</h1>\n<form method="post">\n' +
        "  <input type='hidden' name='csrfmiddlewaretoken' value='abc123' />\n" +
        '  <div class="g-recaptcha" data-sitekey="6LcSiteKey_1" id="id_captcha" required></div>\n' +
        '  <script type="text/javascript" src="https://www.google.com/recaptcha/api.js"></script>\n' +
        '  <input type="submit" value="Devam et">\n</form>',
    );
  });

  it('adds a next field right after the csrf field', () => {
    expect(renderer.fragment('en', 'abc123', '/basket/?x=1')).to.include(
      "value='abc123' />\n  <input type='hidden' name='next' value='/basket/?x=1' />\n  <div",
    );
  });

  it('renders the JSON body as {"html": fragment}, with and without next', () => {
    for (const next of [undefined, '/a?b=c&d=e']) {
      const body = renderer.json('tr', 'ff00', next);
      expect(JSON.parse(body)).to.deep.equal({ html: renderer.fragment('tr', 'ff00', next) });
    }
  });

  it('writes the JSON body in ASCII alone, \\u-escaping what is not, to the same texts', () => {
    const next = '/ürün/ağaç?q=😀';
    const body = renderer.json('tr', 'ff00', next);
    expect(body).to.match(/^[\x20-\x7e]*$/);
    expect(body).to.include('\\u0130');
    expect(JSON.parse(body)).to.deep.equal({ html: renderer.fragment('tr', 'ff00', next) });
  });

  it('escapes a token that is not letters and digits alone, in the page and in the JSON', () => {
    const token = `x'" /><script>\u2028`;
    const { html } = JSON.parse(renderer.json('en', token)) as { html: string };
    expect(html).to.equal(renderer.fragment('en', token));
    expect(html).to.include("value='x&#39;&quot; /&gt;&lt;script&gt;\u2028' />");
  });

  it("lets the storefront's regexes extract the site key and the token", () => {
    const { html } = JSON.parse(renderer.json('tr', '0123abcdef')) as { html: string };
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

  it('escapes a title, submit text and site key that try to inject markup', () => {
    const evil = rendererFor(`
captcha:
  site_key: "\\"><script>alert(1)</script>"
  languages:
    en: { title: "<img src=x onerror=alert(1)>", submit: "\\" autofocus onfocus=\\"alert(1)", failed: "<b>no</b>" }
  default_language: en
`);
    for (const html of [evil.fragment('en', 'aa'), evil.page('en', 'aa', undefined, true)]) {
      expect(html).to.not.include('<script>alert(1)');
      expect(html).to.not.include('<img');
      expect(html).to.not.include('" autofocus');
      expect(html).to.not.include('<b>');
      expect(html).to.include('&lt;img src=x onerror=alert(1)&gt;');
      expect(html).to.include('&quot; autofocus onfocus=&quot;alert(1)');
    }
  });

  it("escapes a next that tries to break out of its attribute with '", () => {
    const next = "/x'><script>alert(1)</script>";
    for (const html of [
      renderer.fragment('tr', 'aa', next),
      renderer.page('tr', 'aa', next, false),
    ]) {
      expect(html).to.not.include('<script>alert(1)');
      expect(html).to.include("value='/x&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;' />");
    }
  });

  it('renders a complete, accessible page in the chosen language', () => {
    const page = renderer.page('en', 'abc123', '/basket/', false);
    expect(page.startsWith('<!doctype html>\n<html lang="en">')).to.equal(true);
    expect(page).to.include('<meta charset="utf-8">');
    expect(page).to.include('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(page).to.include('<title>TO CONTINUE</title>');
    expect(page).to.match(/<main>[\s\S]*<h1 id="captcha-title">TO CONTINUE<\/h1>[\s\S]*<\/main>/);
    expect(page).to.include('<form method="post" aria-labelledby="captcha-title">');
    expect(page).to.include('<button type="submit">Continue</button>');
    expect(page).to.include("name='csrfmiddlewaretoken' value='abc123'");
    expect(page).to.include("name='next' value='/basket/'");
    expect(page).to.include('<div class="g-recaptcha" data-sitekey="6LcSiteKey_1"');
    expect(page).to.not.include('role="alert"');
    // Nothing inline the CSP would have to allow, but the one stylesheet it allows by hash.
    expect(page.match(/<style>/g)).to.have.length(1);
    expect(page).to.not.match(/\sstyle=|<script>|\son\w+=/);
  });

  it('shows the failure text in an alert when re-shown after a failed verification', () => {
    const page = renderer.page('tr', 'abc123', undefined, true);
    expect(page).to.include('<html lang="tr">');
    expect(page).to.include('<p role="alert">Doğrulama başarısız, lütfen tekrar deneyin.</p>');
  });

  it("allows only the provider's origins in the CSP, and the page's own style by its hash", () => {
    const page = renderer.page('en', 'abc123', undefined, false);
    const style = /<style>([^<]*)<\/style>/.exec(page)![1]!;
    const styleHash = `'sha256-${createHash('sha256').update(style).digest('base64')}'`;
    expect(renderer.contentSecurityPolicy).to.equal(
      "default-src 'none'; " +
        'script-src https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/; ' +
        'frame-src https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/; ' +
        `style-src ${styleHash}; ` +
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

  it('refuses a language it has no texts for rather than rendering an empty form', () => {
    expect(() => renderer.fragment('de', 'aa')).to.throw(/no captcha texts/);
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML-special characters and nothing else', () => {
    expect(escapeHtml(`&<>"'İ/`)).to.equal('&amp;&lt;&gt;&quot;&#39;İ/');
  });
});
