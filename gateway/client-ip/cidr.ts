// Parses the CIDR lists of the config (trusted proxies, exempt clients) and answers
// "is this address in the list?". Names stand for the usual ranges of both families.
import ipaddr from 'ipaddr.js';

export type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

const NAMED_RANGES: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
};

export const RANGE_NAMES = Object.keys(NAMED_RANGES);

/** Parses one entry (a name, a CIDR, or a bare address); undefined when it is none of those. */
export function parseRangeEntry(entry: string): Range[] | undefined {
  const named = NAMED_RANGES[entry.toLowerCase()];
  if (named) return named.map((cidr) => toRange(ipaddr.parseCIDR(cidr)));
  // ipaddr also reads "10.1" or "0x0a.0.0.1" as addresses; a typo must not quietly mean another range.
  const address = entry.split('/')[0]!;
  if (address.includes('%')) return undefined;
  if (!address.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(address)) return undefined;
  try {
    if (entry.includes('/')) return [toRange(ipaddr.parseCIDR(entry))];
    const address = ipaddr.process(entry);
    return [[address, address.kind() === 'ipv4' ? 32 : 128]];
  } catch {
    return undefined;
  }
}

// An IPv4-mapped IPv6 range is stored as the IPv4 range: addresses are unmapped before matching.
function toRange([address, bits]: [Address, number]): Range {
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [address, bits];
}

/** A set of ranges built once from config entries that were validated before. */
export class AddressSet {
  private readonly v4: Range[] = [];
  private readonly v6: Range[] = [];

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const ranges = parseRangeEntry(entry);
      if (!ranges) throw new Error(`not an address range: ${entry}`);
      for (const range of ranges) (range[0].kind() === 'ipv4' ? this.v4 : this.v6).push(range);
    }
  }

  get empty(): boolean {
    return this.v4.length === 0 && this.v6.length === 0;
  }

  /** `address` must already be unmapped (ipaddr.process), as the resolver does. */
  has(address: Address): boolean {
    const ranges = address.kind() === 'ipv4' ? this.v4 : this.v6;
    for (const range of ranges) if (address.match(range)) return true;
    return false;
  }
}
