// Turns a client address into the key the limiter counts, and parses the addresses clients send.
import ipaddr from 'ipaddr.js';
import type { Address } from './cidr.js';

/** IPv4 as dotted text; IPv6 as its `/ipv6Prefix` network: one host holds a whole /64 to rotate. */
export function ipKey(address: Address, ipv6Prefix: number): string {
  if (address.kind() === 'ipv4' || ipv6Prefix >= 128) return address.toString();
  const parts = (address as ipaddr.IPv6).parts;
  const masked: number[] = new Array<number>(8);
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, ipv6Prefix - 16 * i));
    masked[i] = (parts[i] ?? 0) & ((0xffff << (16 - bits)) & 0xffff);
  }
  return `${new ipaddr.IPv6(masked).toString()}/${ipv6Prefix}`;
}

/**
 * Parses one address as written in a forwarding header or the admin API: `1.2.3.4`,
 * `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`. IPv4-mapped IPv6
 * becomes IPv4. Undefined for anything else, zone ids included: a zone names an interface of
 * some other host, never a client.
 */
export function parseClientAddress(text: string): Address | undefined {
  let host = text.trim();
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    if (close < 0 || !isPortSuffix(host, close + 1)) return undefined;
    host = host.slice(1, close);
    if (!host.includes(':')) return undefined;
  } else {
    const colon = host.indexOf(':');
    // One colon can only be IPv4 with a port: the shortest IPv6 ("::") has two.
    if (colon >= 0 && host.indexOf(':', colon + 1) < 0) {
      if (!isPortSuffix(host, colon)) return undefined;
      host = host.slice(0, colon);
    }
  }
  if (!host.includes(':')) return parseIPv4(host);
  return parseIPv6(host);
}

// Only plain dotted decimal: ipaddr also reads `127.1`, `0x7f.0.0.1` and even `10` (0.0.0.10),
// which no proxy writes; a stray token in a header must end the walk, not become an address.
function parseIPv4(text: string): ipaddr.IPv4 | undefined {
  const octets: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 0x2e; /* . */
    if (code === 0x2e) {
      if (digits === 0 || value > 255 || octets.length === 4) return undefined;
      octets.push(value);
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return undefined; // leading zero: octal in some parsers
      if (++digits > 3) return undefined;
      value = value * 10 + (code - 0x30);
    } else {
      return undefined;
    }
  }
  return octets.length === 4 ? new ipaddr.IPv4(octets) : undefined;
}

// Hand-written because ipaddr's isValid + parse cost ~1.6 µs per IPv6 peer on every request.
// Accepts RFC 4291 text: 1-4 hex digits per group, one `::` standing for at least one group, an
// optional dotted-decimal IPv4 tail. Zone ids (`%eth0`) fail the hex check.
function parseIPv6(text: string): Address | undefined {
  // Node reports IPv4 peers of dual-stack sockets this way: the most common input by far.
  if (text.startsWith('::ffff:') && text.includes('.')) return parseIPv4(text.slice(7));
  const gap = text.indexOf('::');
  if (gap >= 0 && text.indexOf('::', gap + 1) >= 0) return undefined;
  const parts: number[] = [];
  const head = gap < 0 ? text : text.slice(0, gap);
  if (head !== '' && !pushGroups(head, parts, gap < 0)) return undefined;
  const headLength = parts.length;
  const tail = gap < 0 ? '' : text.slice(gap + 2);
  if (tail !== '' && !pushGroups(tail, parts, true)) return undefined;

  if (gap < 0) {
    if (parts.length !== 8) return undefined;
  } else {
    if (parts.length > 7) return undefined;
    // ipaddr.process reads the deprecated IPv4-compatible `::1.2.3.4` as IPv4; so do we.
    if (head === '' && parts.length === 2 && tail.includes('.')) return v4FromParts(parts, 0);
    parts.splice(headLength, 0, ...new Array<number>(8 - parts.length).fill(0));
  }
  const mapped =
    parts[0] === 0 && parts[1] === 0 && parts[2] === 0 && parts[3] === 0 && parts[4] === 0;
  if (mapped && parts[5] === 0xffff) return v4FromParts(parts, 6);
  return new ipaddr.IPv6(parts);
}

// Appends the `:`-separated groups of `text`; a dotted IPv4 is allowed only as the last group.
function pushGroups(text: string, parts: number[], last: boolean): boolean {
  let start = 0;
  for (;;) {
    const colon = text.indexOf(':', start);
    const end = colon < 0 ? text.length : colon;
    if (colon < 0 && last && text.indexOf('.', start) >= 0) {
      const v4 = parseIPv4(text.slice(start));
      if (!v4) return false;
      const [a = 0, b = 0, c = 0, d = 0] = v4.octets;
      parts.push((a << 8) | b, (c << 8) | d);
      return true;
    }
    if (end === start || end - start > 4) return false;
    let value = 0;
    for (let i = start; i < end; i++) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit < 0) return false;
      value = (value << 4) | digit;
    }
    parts.push(value);
    if (colon < 0) return true;
    start = colon + 1;
  }
}

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function v4FromParts(parts: number[], from: number): ipaddr.IPv4 {
  const high = parts[from] ?? 0;
  const low = parts[from + 1] ?? 0;
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

// True when `text` ends at `from`, or continues with `:` and a port number there.
function isPortSuffix(text: string, from: number): boolean {
  if (from === text.length) return true;
  if (text.charCodeAt(from) !== 0x3a /* : */ || text.length - from - 1 > 5) return false;
  let port = 0;
  for (let i = from + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
    port = port * 10 + (code - 0x30);
  }
  return from + 1 < text.length && port <= 65535;
}
