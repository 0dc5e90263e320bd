// Fuzzes the client-IP resolver with fast-check: whatever the TCP peer and the
// forwarding header hold, it never throws, only ever names the peer or an address the header
// holds, and a client can never choose its own identity.
import { expect } from 'chai';
import fc from 'fast-check';
import type { IncomingHttpHeaders } from 'node:http';
import ipaddr from 'ipaddr.js';
import { AddressSet } from '../../../gateway/client-ip/cidr.js';
import { parseClientAddress } from '../../../gateway/client-ip/ip-key.js';
import { createClientResolver } from '../../../gateway/client-ip/resolve.js';

const TRUSTED_ENTRIES = ['loopback', 'private', '2001:db8:aaaa::/48'];
const trusted = new AddressSet(TRUSTED_ENTRIES);
const resolve = createClientResolver({ header: 'x-forwarded-for', trusted, ipv6Prefix: 64 });
/** The identity of a request whose peer address is gone or unreadable (resolve.ts). */
const NO_PEER = '0.0.0.0';

const RUNS = { numRuns: 1000 };

// --- addresses as proxies and attackers write them ---------------------------------------------

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 0, max: 65535 });

/** An address in one of the trusted ranges: what the gateway's own proxies are. */
const trustedAddress = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `10.${a}.${b}.${c}`),
  fc.tuple(fc.integer({ min: 16, max: 31 }), fc.nat(255), fc.nat(255)).map(([a, b, c]) => {
    return `172.${a}.${b}.${c}`;
  }),
  fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `192.168.${a}.${b}`),
  fc.nat(255).map((a) => `127.0.0.${a}`),
  fc.constant('::1'),
  fc.nat(0xffff).map((g) => `fd00::${g.toString(16)}`),
  fc.nat(0xffff).map((g) => `2001:db8:aaaa::${g.toString(16)}`),
);

/** Any valid address; most fall outside the trusted ranges. */
const anyAddress = fc.oneof(ipv4, ipv6, trustedAddress);
const untrustedAddress = anyAddress.filter((text) => !trusted.has(ipaddr.process(text)));

/** One header entry in any of the forms proxies write, or garbage. */
const headerEntry = fc.oneof(
  anyAddress,
  fc.tuple(ipv4, port).map(([ip, p]) => `${ip}:${p}`),
  ipv6.map((ip) => `[${ip}]`),
  fc.tuple(ipv6, port).map(([ip, p]) => `[${ip}]:${p}`),
  ipv4.map((ip) => `::ffff:${ip}`),
  anyAddress.map((ip) => ` ${ip}\t`),
  fc.ipV4Extended(), // 0x7f.1, 010.0.0.1: forms no proxy writes
  ipv6.map((ip) => `${ip}%eth0`),
  fc.constantFrom('', ' ', 'unknown', '[::1', '::1]', '1.2.3.4:', '[::1]:99999', '1.2.3.4:5:6'),
  fc.string(),
  fc.string({ unit: 'binary' }),
);

/** A header value: entries joined by commas, sometimes as several header lines. */
const headerValue: fc.Arbitrary<string | string[]> = fc.oneof(
  fc.array(headerEntry, { maxLength: 8 }).map((entries) => entries.join(', ')),
  fc.array(headerEntry, { maxLength: 8 }).map((entries) => entries.join(',')),
  fc.array(
    fc.array(headerEntry, { maxLength: 3 }).map((entries) => entries.join(',')),
    {
      minLength: 1,
      maxLength: 3,
    },
  ),
  fc.string({ unit: 'binary' }),
);

/** A TCP peer as the socket reports it, or something it never would. */
const peerAddress = fc.oneof(
  anyAddress,
  ipv4.map((ip) => `::ffff:${ip}`),
  ipv6.map((ip) => `${ip}%eth0`),
  fc.constant(undefined),
  fc.string(),
);

// --- the reference the resolver is held to -----------------------------------------------------

const xff = (value: string | string[]): IncomingHttpHeaders => ({ 'x-forwarded-for': value });

/** The peer as the resolver must see it: zone id dropped, IPv4-mapped unmapped. */
function peerText(peer: string | undefined): string {
  if (peer === undefined) return NO_PEER;
  const zone = peer.indexOf('%');
  return parseClientAddress(zone < 0 ? peer : peer.slice(0, zone))?.toString() ?? NO_PEER;
}

/** Every address the header holds, each entry parsed as the resolver parses it. */
function headerTexts(value: string | string[]): Set<string> {
  const joined = typeof value === 'string' ? value : value.join(',');
  const texts = new Set<string>();
  for (const entry of joined.split(',')) {
    const address = parseClientAddress(entry);
    if (address) texts.add(address.toString());
  }
  return texts;
}

describe('createClientResolver under fuzzing', () => {
  it('never throws, whatever the peer and the header hold', () => {
    fc.assert(
      fc.property(peerAddress, headerValue, (peer, value) => {
        const client = resolve(peer, xff(value));
        expect(client.text).to.equal(client.address.toString());
        // Nothing of a header's garbage ever reaches the limiter's key.
        expect(client.key).to.match(/^[0-9a-f.:]+(\/64)?$/);
      }),
      RUNS,
    );
  });

  it('only ever answers the peer or an address the header actually holds', () => {
    fc.assert(
      fc.property(peerAddress, headerValue, (peer, value) => {
        const { text } = resolve(peer, xff(value));
        if (text !== peerText(peer)) expect(headerTexts(value)).to.include(text);
      }),
      RUNS,
    );
  });

  it('a spoofed X-Forwarded-For from an untrusted peer never becomes the client', () => {
    fc.assert(
      fc.property(peerAddress, headerValue, (peer, value) => {
        const own = peerText(peer);
        fc.pre(!trusted.has(ipaddr.parse(own)));
        expect(resolve(peer, xff(value)).text).to.equal(own);
      }),
      RUNS,
    );
  });

  it('a spoofed X-Forwarded-For from an untrusted public peer never becomes the client', () => {
    // The same attack with only real, routable peers, so none is lost to fc.pre.
    fc.assert(
      fc.property(untrustedAddress, headerValue, (peer, value) => {
        expect(resolve(peer, xff(value)).text).to.equal(ipaddr.process(peer).toString());
      }),
      RUNS,
    );
  });

  it('entries an attacker prepends never get past the right-most untrusted hop', () => {
    // The client writes anything it likes; each trusted proxy then appends the address it saw.
    fc.assert(
      fc.property(
        headerValue,
        untrustedAddress,
        fc.array(trustedAddress, { maxLength: 4 }),
        trustedAddress,
        (spoofed, client, innerProxies, peer) => {
          const forged = typeof spoofed === 'string' ? spoofed : spoofed.join(',');
          const value = [forged, client, ...innerProxies].join(', ');
          expect(resolve(peer, xff(value)).text).to.equal(ipaddr.process(client).toString());
        },
      ),
      RUNS,
    );
  });

  it('an entry that is not an address ends the walk: nothing left of it is believed', () => {
    const garbage = headerEntry.filter((e) => !e.includes(',') && !parseClientAddress(e));
    fc.assert(
      fc.property(
        headerValue,
        garbage,
        fc.array(trustedAddress, { maxLength: 4 }),
        trustedAddress,
        (left, junk, proxies, peer) => {
          const before = typeof left === 'string' ? left : left.join(',');
          const value = [before, junk, ...proxies].join(',');
          const lastGood = proxies[0] ?? peer;
          expect(resolve(peer, xff(value)).text).to.equal(ipaddr.process(lastGood).toString());
        },
      ),
      RUNS,
    );
  });

  it('walks a chain of valid addresses exactly as the right-to-left reference does', () => {
    fc.assert(
      fc.property(anyAddress, fc.array(anyAddress, { maxLength: 8 }), (peer, chain) => {
        let expected = ipaddr.process(peer);
        for (let i = chain.length - 1; i >= 0 && trusted.has(expected); i -= 1) {
          expected = ipaddr.process(chain[i]!);
        }
        expect(resolve(peer, xff(chain.join(', '))).text).to.equal(expected.toString());
      }),
      RUNS,
    );
  });

  it('rotating addresses inside one IPv6 /64 never makes a new client', () => {
    fc.assert(
      fc.property(
        untrustedAddress.filter((text) => ipaddr.process(text).kind() === 'ipv6'),
        fc.array(fc.nat(0xffff), { minLength: 4, maxLength: 4 }),
        (address, host) => {
          const parts = (ipaddr.process(address) as ipaddr.IPv6).parts.slice(0, 4);
          const rotated = new ipaddr.IPv6([...parts, ...host]).toString();
          const unmapped = ipaddr.process(rotated);
          fc.pre(unmapped.kind() === 'ipv6' && !trusted.has(unmapped));
          expect(resolve(rotated, {}).key).to.equal(resolve(address, {}).key);
        },
      ),
      RUNS,
    );
  });
});
