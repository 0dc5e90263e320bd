// Finds who the client is behind trusted proxies.
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

/** What one TCP peer address says, worked out once for all the requests that come from it. */
interface KnownPeer {
  readonly identity: ClientIdentity;
  readonly trusted: boolean;
}

/**
 * Peers remembered at most: load balancers and keep-alive clients send many requests from one
 * address. A flood of new peers only empties the memo, so it stays this small whatever comes.
 */
const PEER_MEMO_SIZE = 4096;

export function createClientResolver(options: ClientResolverOptions): ClientResolver {
  const { header, trusted, ipv6Prefix } = options;
  const peers = new Map<string, KnownPeer>();

  const identify = (address: Address): ClientIdentity => {
    const text = address.toString();
    const key = address.kind() === 'ipv4' ? text : ipKey(address, ipv6Prefix);
    return { address, text, key };
  };

  const knownPeer = (peerAddress: string | undefined): KnownPeer => {
    const text = peerAddress ?? '';
    let known = peers.get(text);
    if (known === undefined) {
      const address = parsePeer(peerAddress);
      known = { identity: identify(address), trusted: trusted.has(address) };
      if (peers.size >= PEER_MEMO_SIZE) peers.clear();
      peers.set(text, known);
    }
    return known;
  };

  return (peerAddress, headers) => {
    const peer = knownPeer(peerAddress);
    // The header is only believed when the hop that wrote it is one of ours.
    if (!peer.trusted) return peer.identity;
    const raw = headers[header];
    if (raw === undefined) return peer.identity;
    const value = typeof raw === 'string' ? raw : raw.join(',');

    // Walk right to left: each trusted hop vouches for the entry it appended, nothing further left.
    let current = peer.identity.address;
    let end = value.length;
    while (end >= 0 && trusted.has(current)) {
      const comma = end === 0 ? -1 : value.lastIndexOf(',', end - 1);
      const next = parseClientAddress(value.slice(comma + 1, end));
      if (!next) break;
      current = next;
      end = comma;
    }
    return current === peer.identity.address ? peer.identity : identify(current);
  };
}

// The kernel's address is genuine, so a link-local zone id (`fe80::1%eth0`) is dropped rather than
// the whole address refused as it is in headers.
function parsePeer(peerAddress: string | undefined): Address {
  if (peerAddress === undefined) return NO_PEER;
  const zone = peerAddress.indexOf('%');
  return parseClientAddress(zone < 0 ? peerAddress : peerAddress.slice(0, zone)) ?? NO_PEER;
}
