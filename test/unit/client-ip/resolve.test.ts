// Checks that the client is found behind trusted proxies and can never choose its own identity.
import { expect } from 'chai';
import type { IncomingHttpHeaders } from 'node:http';
import { AddressSet } from '../../../gateway/client-ip/cidr.js';
import { createClientResolver } from '../../../gateway/client-ip/resolve.js';

const behindProxies = createClientResolver({
  header: 'x-forwarded-for',
  trusted: new AddressSet(['loopback', 'private']),
  ipv6Prefix: 64,
});

const xff = (value: string | string[]): IncomingHttpHeaders => ({ 'x-forwarded-for': value });

describe('createClientResolver', () => {
  it('ignores X-Forwarded-For when the peer is not a trusted proxy', () => {
    const client = behindProxies('203.0.113.9', xff('198.51.100.1'));
    expect(client.text).to.equal('203.0.113.9');
  });

  it('works a peer address out once for all the requests that come from it', () => {
    expect(behindProxies('203.0.113.9', {})).to.equal(behindProxies('203.0.113.9', xff('1.2.3.4')));
    expect(behindProxies('10.0.0.1', {})).to.equal(behindProxies('10.0.0.1', {}));
  });

  it('keeps telling peers apart through a flood of new ones', () => {
    for (let i = 0; i < 10_000; i++) {
      const peer = `198.51.${i >> 8}.${i & 255}`;
      expect(behindProxies(peer, xff('1.2.3.4')).key).to.equal(peer);
    }
    expect(behindProxies('10.0.0.1', xff('1.2.3.4')).key).to.equal('1.2.3.4');
  });

  it('takes the peer when a trusted proxy sends no header', () => {
    expect(behindProxies('10.0.0.1', {}).text).to.equal('10.0.0.1');
  });

  it('takes the right-most untrusted hop, not a spoofed left-most entry', () => {
    const client = behindProxies('10.0.0.1', xff('198.51.100.66, 203.0.113.7, 10.0.0.2'));
    expect(client.text).to.equal('203.0.113.7');
  });

  it('takes the left-most entry when the whole chain is trusted', () => {
    expect(behindProxies('127.0.0.1', xff('10.0.0.3, 10.0.0.2')).text).to.equal('10.0.0.3');
  });

  it('ends the walk at an entry that is not an address, keeping the last good one', () => {
    const client = behindProxies('10.0.0.1', xff('203.0.113.7, garbage, 10.0.0.2'));
    expect(client.text).to.equal('10.0.0.2');
  });

  it('ends the walk at an empty entry', () => {
    expect(behindProxies('10.0.0.1', xff('203.0.113.7,,10.0.0.2')).text).to.equal('10.0.0.2');
    expect(behindProxies('10.0.0.1', xff('')).text).to.equal('10.0.0.1');
  });

  it('strips the port of an IPv4 entry', () => {
    expect(behindProxies('10.0.0.1', xff('1.2.3.4:5678')).text).to.equal('1.2.3.4');
  });

  it('strips brackets and port of an IPv6 entry', () => {
    expect(behindProxies('10.0.0.1', xff('[2001:db8::1]:443')).text).to.equal('2001:db8::1');
  });

  it('treats an IPv4-mapped peer as the IPv4 address it maps', () => {
    const client = behindProxies('::ffff:10.0.0.1', xff('203.0.113.7'));
    expect(client.text).to.equal('203.0.113.7');
    expect(behindProxies('::ffff:203.0.113.9', {}).text).to.equal('203.0.113.9');
  });

  it('turns an IPv4-mapped header entry into the IPv4 client', () => {
    const client = behindProxies('10.0.0.1', xff('::ffff:203.0.113.7'));
    expect(client.address.kind()).to.equal('ipv4');
    expect(client.key).to.equal('203.0.113.7');
  });

  it('keys IPv6 clients in the same /64 alike and in another /64 apart', () => {
    const first = behindProxies('10.0.0.1', xff('2001:db8:1:2::1'));
    const second = behindProxies('10.0.0.1', xff('2001:db8:1:2:ffff::9'));
    const other = behindProxies('10.0.0.1', xff('2001:db8:1:3::1'));
    expect(first.key).to.equal('2001:db8:1:2::/64');
    expect(second.key).to.equal(first.key);
    expect(other.key).to.not.equal(first.key);
    expect(second.text).to.equal('2001:db8:1:2:ffff::9');
  });

  it('keys IPv6 clients by their full address with prefix 128', () => {
    const resolve = createClientResolver({
      header: 'x-forwarded-for',
      trusted: new AddressSet(['private']),
      ipv6Prefix: 128,
    });
    const first = resolve('10.0.0.1', xff('2001:db8:1:2::1'));
    const second = resolve('10.0.0.1', xff('2001:db8:1:2::2'));
    expect(first.key).to.equal('2001:db8:1:2::1');
    expect(second.key).to.not.equal(first.key);
  });

  it('keys IPv6 clients by their /48 with prefix 48', () => {
    const resolve = createClientResolver({
      header: 'x-forwarded-for',
      trusted: new AddressSet(['private']),
      ipv6Prefix: 48,
    });
    expect(resolve('10.0.0.1', xff('2001:db8:1:2::1')).key).to.equal('2001:db8:1::/48');
    expect(resolve('10.0.0.1', xff('2001:db8:1:7::1')).key).to.equal('2001:db8:1::/48');
    expect(resolve('10.0.0.1', xff('2001:db8:2::1')).key).to.equal('2001:db8:2::/48');
  });

  it('keys an untrusted IPv6 peer by its network too', () => {
    expect(behindProxies('2001:db8:9:9::5', {}).key).to.equal('2001:db8:9:9::/64');
  });

  it('trusts an IPv6 proxy in a trusted range', () => {
    expect(behindProxies('fd00::1', xff('203.0.113.7')).text).to.equal('203.0.113.7');
  });

  it('joins a header given as an array before walking it', () => {
    const client = behindProxies('10.0.0.1', xff(['198.51.100.66, 203.0.113.7', '10.0.0.2']));
    expect(client.text).to.equal('203.0.113.7');
  });

  it('reads a single-value header such as X-Real-IP', () => {
    const resolve = createClientResolver({
      header: 'x-real-ip',
      trusted: new AddressSet(['loopback']),
      ipv6Prefix: 64,
    });
    expect(resolve('127.0.0.1', { 'x-real-ip': '203.0.113.7' }).text).to.equal('203.0.113.7');
    expect(resolve('127.0.0.1', xff('198.51.100.1')).text).to.equal('127.0.0.1');
    expect(resolve('203.0.113.9', { 'x-real-ip': '198.51.100.1' }).text).to.equal('203.0.113.9');
  });

  it('falls back to 0.0.0.0 when the socket has no peer address', () => {
    const client = behindProxies(undefined, xff('203.0.113.7'));
    expect(client.text).to.equal('0.0.0.0');
    expect(client.key).to.equal('0.0.0.0');
  });

  it('falls back to 0.0.0.0 when the peer address does not parse', () => {
    expect(behindProxies('not an address', {}).text).to.equal('0.0.0.0');
  });

  it('drops the zone id of a link-local peer instead of refusing it', () => {
    expect(behindProxies('fe80::1%eth0', {}).text).to.equal('fe80::1');
  });
});
