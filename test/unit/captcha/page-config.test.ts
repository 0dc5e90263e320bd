// The captcha page's config keys: only values that are safe to put in the page and its CSP get
// through `--check`, each refusal says what is allowed, and the shipped texts are complete.
import { expect } from 'chai';
import { parseConfig } from '../../../gateway/config/load.js';
import { contrast, longHex } from '../../../gateway/captcha/page-style.js';

function problemsOf(page: string): readonly string[] {
  const result = parseConfig(
    `upstream: { url: "http://127.0.0.1:9" }\ncaptcha: { page: { shop_name: Shop, ${page} } }`,
    {},
  );
  return result.ok ? [] : result.problems;
}

describe('captcha.page config', () => {
  it('accepts an https URL or a path on this site for the logo and the support link', () => {
    for (const url of [
      'https://cdn.shop.example/logo.svg',
      'https://cdn.shop.example:8443/img/logo.png?v=2#x',
      '/static/logo.svg',
      '/static/logo%20big.png?v=3',
    ]) {
      expect(problemsOf(`logo_url: "${url}"`), url).to.deep.equal([]);
      expect(problemsOf(`support_url: "${url}"`), url).to.deep.equal([]);
    }
    expect(problemsOf('support_url: "mailto:help@shop.example"')).to.deep.equal([]);
  });

  it('refuses a logo or support URL that could run script, leave TLS or reach another host', () => {
    for (const url of [
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      'data:image/svg+xml,<svg onload=alert(1)>',
      'vbscript:msgbox(1)',
      'http://shop.example/logo.svg',
      'https://user:secret@shop.example/logo.svg',
      '//evil.example/logo.svg',
      '/\\evil.example/logo.svg',
      'static/logo.svg',
      '/static/logo svg',
      '/static/\u0000logo.svg',
      ' https://shop.example/logo.svg',
    ]) {
      const [logo] = problemsOf(`logo_url: ${JSON.stringify(url)}`);
      expect(logo, url).to.match(/^captcha\.page\.logo_url: .* is not an https:\/\/ URL or a path/);
      const [support] = problemsOf(`support_url: ${JSON.stringify(url)}`);
      expect(support, url).to.match(/^captcha\.page\.support_url: .* is not an https:\/\/ URL/);
    }
    expect(problemsOf('logo_url: "mailto:a@b.example"')).to.have.length(1);
    expect(problemsOf('support_url: "mailto:a@b.example?body=<script>"')).to.have.length(1);
  });

  it('refuses an accent colour that is not a CSS hex colour, so nothing else reaches the stylesheet', () => {
    for (const color of [
      'red',
      '#12345',
      '#1234567',
      '1a5fd0',
      '#1a5fd0;background:url(x)',
      '#ggg',
    ]) {
      expect(problemsOf(`accent_color: ${JSON.stringify(color)}`), color).to.deep.equal([
        `captcha.page.accent_color: ${JSON.stringify(color)} is not a CSS hex colour such as #1a5fd0 or #07c`,
      ]);
    }
    expect(problemsOf("accent_color: '#07C'")).to.deep.equal([]);
  });

  it('ships complete Turkish and English texts with every key the page shows', () => {
    const result = parseConfig('upstream: { url: "http://127.0.0.1:9" }', {});
    if (!result.ok) expect.fail(result.problems.join('\n'));
    const { languages, page } = result.config.captcha;
    expect(Object.keys(languages)).to.deep.equal(['tr', 'en']);
    for (const texts of Object.values(languages)) {
      for (const [key, text] of Object.entries(texts)) expect(text.trim(), key).to.not.equal('');
    }
    expect(page).to.deep.equal({
      shop_name: '',
      logo_url: '',
      accent_color: '#1a5fd0',
      support_url: '',
    });
  });
});

describe('page style colours', () => {
  it('spells #rgb as #rrggbb', () => {
    expect(longHex('#0aF')).to.equal('#00aaff');
    expect(longHex('#1A5FD0')).to.equal('#1a5fd0');
  });

  it('refuses to write anything but a hex colour into the stylesheet, whatever the caller', () => {
    expect(() => longHex('#000;}body{background:url(//evil.example)')).to.throw(/not a CSS hex/);
    expect(() => longHex('red')).to.throw(/not a CSS hex/);
  });

  it('computes the WCAG contrast ratio', () => {
    expect(contrast('#000000', '#ffffff')).to.be.closeTo(21, 1e-9);
    expect(contrast('#ffffff', '#ffffff')).to.equal(1);
    // The default accent with white button text passes AA (4.5) comfortably.
    expect(contrast('#1a5fd0', '#ffffff')).to.be.within(5.5, 6.5);
  });
});
