// Checks content negotiation (HTML page or the storefront's JSON) and the form's language choice.
import { expect } from 'chai';
import { createLanguagePicker } from '../../../gateway/captcha/language.js';
import { prefersHtml } from '../../../gateway/captcha/negotiate.js';

describe('prefersHtml', () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['application/json', false],
    ['application/json, text/plain, */*', false],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
    ['text/html', true],
    ['TEXT/HTML', true],
    ['application/json, text/html', false],
    ['text/html, application/json', true],
    ['text/html;q=0.5, application/json', false],
    ['application/json;q=0.5, text/html', true],
    ['text/html;q=0', false],
    ['text/html;q=0.0, */*', false],
    ['text/html;q=abc', false],
    ['text/html; charset=utf-8', true],
    ['text/htmlx', false],
  ];
  for (const [accept, html] of cases) {
    it(`${html ? 'prefers HTML' : 'answers JSON'} for Accept: ${JSON.stringify(accept)}`, () => {
      expect(prefersHtml(accept)).to.equal(html);
    });
  }
});

describe('createLanguagePicker', () => {
  const pick = createLanguagePicker(['tr', 'en', 'pt-br'], 'tr');
  const cases: [string | undefined, string][] = [
    [undefined, 'tr'],
    ['', 'tr'],
    ['*', 'tr'],
    ['en', 'en'],
    ['EN-us', 'en'],
    ['de-DE,de;q=0.9', 'tr'],
    ['de-DE,de;q=0.9,en;q=0.8', 'en'],
    ['pt-BR', 'pt-br'],
    ['pt', 'tr'],
    ['tr;q=0.5, en;q=0.9', 'en'],
    ['en;q=0, tr;q=0.1', 'tr'],
    ['en;q=2', 'tr'],
    [',,,;;;', 'tr'],
    ['xx,'.repeat(10_000) + 'en', 'tr'],
  ];
  for (const [header, language] of cases) {
    const shown = header !== undefined && header.length > 60 ? header.slice(0, 20) + '…' : header;
    it(`picks ${language} for Accept-Language: ${JSON.stringify(shown)}`, () => {
      expect(pick(header)).to.equal(language);
    });
  }
});
