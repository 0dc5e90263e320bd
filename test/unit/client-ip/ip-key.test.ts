// Checks how client addresses are parsed and turned into limiter keys.
import { expect } from 'chai';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { ipKey, parseClientAddress } from '../../../gateway/client-ip/ip-key.js';

const v6 = (text: string) => ipaddr.IPv6.parse(text);

describe('ipKey', () => {
  it('keys an IPv4 client by its dotted address', () => {
    expect(ipKey(ipaddr.IPv4.parse('203.0.113.7'), 64)).to.equal('203.0.113.7');
  });

  it('keys an IPv6 client by its /64 network in compact form', () => {
    expect(ipKey(v6('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), 64)).to.equal('2001:db8:1:2::/64');
  });

  it('keys an IPv6 client by a /48 network when the prefix is 48', () => {
    expect(ipKey(v6('2001:db8:1:2::1'), 48)).to.equal('2001:db8:1::/48');
  });

  it('masks a prefix that does not fall on a 16-bit boundary', () => {
    expect(ipKey(v6('2001:db8:1:ffff::1'), 56)).to.equal('2001:db8:1:ff00::/56');
  });

  it('keys an IPv6 client by its full address when the prefix is 128', () => {
    expect(ipKey(v6('2001:db8::1'), 128)).to.equal('2001:db8::1');
  });
});

describe('parseClientAddress', () => {
  const parsed = (text: string) => parseClientAddress(text)?.toString();

  it('parses a plain IPv4 address', () => {
    expect(parsed('203.0.113.7')).to.equal('203.0.113.7');
  });

  it('trims surrounding whitespace', () => {
    expect(parsed('  203.0.113.7\t')).to.equal('203.0.113.7');
  });

  it('strips the port of an IPv4 address', () => {
    expect(parsed('1.2.3.4:5678')).to.equal('1.2.3.4');
  });

  it('parses a plain IPv6 address in compact form', () => {
    expect(parsed('2001:DB8:0:0::1')).to.equal('2001:db8::1');
  });

  it('strips brackets around an IPv6 address', () => {
    expect(parsed('[::1]')).to.equal('::1');
  });

  it('strips brackets and port of an IPv6 address', () => {
    expect(parsed('[2001:db8::1]:443')).to.equal('2001:db8::1');
  });

  it('turns an IPv4-mapped IPv6 address into the IPv4 address', () => {
    const address = parseClientAddress('::ffff:1.2.3.4');
    expect(address?.kind()).to.equal('ipv4');
    expect(address?.toString()).to.equal('1.2.3.4');
  });

  it('turns a hex-written IPv4-mapped address into the IPv4 address', () => {
    expect(parsed('::ffff:7f00:1')).to.equal('127.0.0.1');
  });

  for (const garbage of [
    'abc',
    '',
    '   ',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '127.1',
    '0x7f.0.0.1',
    '2130706433',
    '1.2.3.4:',
    '1.2.3.4:port',
    '1.2.3.4:99999',
    'fe80::1%eth0',
    '[fe80::1%eth0]:443',
    '[::1',
    '[::1]x',
    '[1.2.3.4]',
    '::ffff:0x1.2.3.4',
    '2001:db8::1::2',
    'unknown',
  ]) {
    it(`rejects ${JSON.stringify(garbage)}`, () => {
      expect(parseClientAddress(garbage)).to.equal(undefined);
    });
  }
});

describe('parseClientAddress against ipaddr.js', () => {
  const hexGroup = fc.integer({ min: 0, max: 0xffff });
  const anyIPv6 = fc
    .tuple(fc.array(hexGroup, { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 8 }))
    .map(([parts, zeros]) => new ipaddr.IPv6(parts.map((part, i) => (i < zeros ? 0 : part))));

  it('reads every spelling of an IPv6 address as ipaddr.process does', () => {
    fc.assert(
      fc.property(anyIPv6, fc.boolean(), (address, mapped) => {
        if (mapped) address.parts.splice(0, 6, 0, 0, 0, 0, 0, 0xffff);
        const expected = ipaddr.process(address.toString()).toString();
        for (const text of [
          address.toString(),
          address.toNormalizedString(),
          address.parts.map((part) => part.toString(16).padStart(4, '0')).join(':'),
          address.toString().toUpperCase(),
          `[${address.toString()}]:8080`,
        ]) {
          expect(parseClientAddress(text)?.toString(), text).to.equal(expected);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('only accepts what ipaddr.js also reads as the same address', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF:.:%'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 45 }), (text) => {
        const address = parseClientAddress(text);
        if (address && text.split(':').length > 2) {
          expect(address.toString(), text).to.equal(ipaddr.process(text).toString());
        }
      }),
      { numRuns: 5000 },
    );
  });
});
