// Finds who the client is behind trusted proxies (CONTRACT §3).
import type { IncomingHttpHeaders } from 'node:http';
import ipaddr from 'ipaddr.js';
import type { Address, AddressSet } from './cidr.js';
import { ipKey, parseClientAddress } from './ip-key.js';

export interface ClientIdentity {
  readonly address: Address;
  /** `address.toString()` */
  readonly text: string;
  /** what the limiter counts: `ipKey(address, ipv6Prefix)` */
  readonly key: string;
}

export interface ClientResolverOptions {
  /** lower-case header name, e.g. `x-forwarded-for` */
  header: string;
  trusted: AddressSet;
  ipv6Prefix: number;
}

export type ClientResolver = (
  peerAddress: string | undefined,
  headers: IncomingHttpHeaders,
) => ClientIdentity;

// A socket that is already closed has no remote address; all such requests share one identity.
const NO_PEER = new ipaddr.IPv4([0, 0, 0, 0]);

export function createClientResolver(options: ClientResolverOptions): ClientResolver {
  const { header, trusted, ipv6Prefix } = options;

  const identify = (address: Address): ClientIdentity => {
    const text = address.toString();
    const key = address.kind() === 'ipv4' ? text : ipKey(address, ipv6Prefix);
    return { address, text, key };
  };

  return (peerAddress, headers) => {
    const peer = parsePeer(peerAddress);
    // The header is only believed when the hop that wrote it is one of ours.
    if (!trusted.has(peer)) return identify(peer);
    const raw = headers[header];
    if (raw === undefined) return identify(peer);
    const value = typeof raw === 'string' ? raw : raw.join(',');

    // Walk right to left: each trusted hop vouches for the entry it appended, nothing further left.
    let current = peer;
    let end = value.length;
    while (end >= 0 && trusted.has(current)) {
      const comma = end === 0 ? -1 : value.lastIndexOf(',', end - 1);
      const next = parseClientAddress(value.slice(comma + 1, end));
      if (!next) break;
      current = next;
      end = comma;
    }
    return identify(current);
  };
}

// The kernel's address is genuine, so a link-local zone id (`fe80::1%eth0`) is dropped rather than
// the whole address refused as it is in headers.
function parsePeer(peerAddress: string | undefined): Address {
  if (peerAddress === undefined) return NO_PEER;
  const zone = peerAddress.indexOf('%');
  return parseClientAddress(zone < 0 ? peerAddress : peerAddress.slice(0, zone)) ?? NO_PEER;
}
