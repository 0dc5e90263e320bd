// Checks that `next` can only ever send a client to a path on this site (no open redirect).
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_NEXT_LENGTH, safeNext } from '../../../gateway/captcha/safe-next.js';

describe('safeNext', () => {
  const attacks: [string, unknown][] = [
    ['a protocol-relative //evil.com', '//evil.com'],
    ['//evil.com with a path', '//evil.com/login'],
    ['/\\evil.com, which browsers read as //evil.com', '/\\evil.com'],
    ['\\\\evil.com', '\\\\evil.com'],
    ['an absolute https://evil.com', 'https://evil.com'],
    ['an absolute http URL', 'http://evil.com/'],
    ['javascript:alert(1)', 'javascript:alert(1)'],
    ['a data: URL', 'data:text/html,<script>alert(1)</script>'],
    ['a tab that URL parsers strip: /\\t/evil.com', '/\t/evil.com'],
    ['a newline that URL parsers strip: /\\n/evil.com', '/\n/evil.com'],
    ['a carriage return (header splitting)', '/a\r\nSet-Cookie: x=1'],
    ['a NUL byte', '/a\0b'],
    ['a DEL character', '/a\x7f'],
    ['a C1 control character', '/a\u0085b'],
    ['a space', '/a b'],
    ['a non-breaking space', '/a\u00a0b'],
    ['a line separator', '/a\u2028b'],
    ['a relative path without a leading slash', 'evil.com'],
    ['a dot-relative path', './x'],
    ['the empty string', ''],
    ['a backslash later in the path', '/a\\b'],
    ['a path longer than the limit', '/' + 'a'.repeat(MAX_NEXT_LENGTH)],
    ['an array (repeated parameter)', ['/a', '/b']],
    ['an array holding one path', ['/a']],
    ['an object', { toString: () => '/a' }],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
  ];
  for (const [name, value] of attacks) {
    it(`rejects ${name}`, () => {
      expect(safeNext(value)).to.equal('/');
    });
  }

  const valid = [
    '/',
    '/products/7/',
    '/products/7/?size=42&color=red',
    '/search/?q=%2F%2Fevil.com',
    '/a/b#section',
    '/users/captcha/?next=%2Fbasket%2F',
    '/' + 'a'.repeat(MAX_NEXT_LENGTH - 1),
  ];
  for (const value of valid) {
    it(`keeps the local path ${value.length > 40 ? value.slice(0, 40) + '…' : value}`, () => {
      expect(safeNext(value)).to.equal(value);
    });
  }

  it('always answers a path that stays on this origin, whatever the input (property)', () => {
    const base = 'https://shop.example';
    const prefixes = fc.constantFrom('/', '//', '/\\', '\\', 'http:', 'javascript:', '/\t/', ' /');
    const input = fc.oneof(
      fc.anything(),
      fc.string({ unit: 'binary' }),
      fc.tuple(prefixes, fc.string({ unit: 'binary' })).map(([p, s]) => p + s),
    );
    fc.assert(
      fc.property(input, (value) => {
        const next = safeNext(value);
        const url = new URL(next, base);
        return (
          next.startsWith('/') &&
          !next.startsWith('//') &&
          url.origin === base &&
          next.length <= MAX_NEXT_LENGTH &&
          /^[\x21-\x7e]+$/.test(next)
        );
      }),
      { numRuns: 5000 },
    );
  });
});
