// What the proxy writes about the TCP peer of a request: its address as X-Forwarded-For shows it,
// whether it is a trusted proxy, and the scheme it spoke. Worked out once per connection.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import ipaddr from 'ipaddr.js';
import type { AddressSet } from '../client-ip/cidr.js';

export interface Peer {
  /** The peer address, IPv4-mapped IPv6 written as IPv4 (`::ffff:1.2.3.4` → `1.2.3.4`). */
  readonly address: string;
  /** The peer is a trusted proxy: its X-Forwarded-Proto and X-Forwarded-Host are believed. */
  readonly trusted: boolean;
  /** The scheme of this connection. */
  readonly proto: 'http' | 'https';
}

/** Undefined when the socket has no peer address any more (it is closed). */
export type PeerOf = (socket: Socket) => Peer | undefined;

/**
 * A lookup cached per socket: a keep-alive connection from a load balancer carries many requests,
 * and parsing its address for each would be wasted work on the hot path.
 */
export function createPeerLookup(trusted: AddressSet): PeerOf {
  const known = new WeakMap<Socket, Peer>();
  return (socket) => {
    let peer = known.get(socket);
    if (peer) return peer;
    const remote = socket.remoteAddress;
    if (remote === undefined) return undefined;
    peer = describe(remote, trusted, (socket as TLSSocket).encrypted === true);
    known.set(socket, peer);
    return peer;
  };
}

function describe(remote: string, trusted: AddressSet, encrypted: boolean): Peer {
  const proto = encrypted ? 'https' : 'http';
  // The kernel's address is genuine; a link-local zone id (`fe80::1%eth0`) means nothing upstream.
  const zone = remote.indexOf('%');
  const bare = zone === -1 ? remote : remote.slice(0, zone);
  try {
    const address = ipaddr.process(bare);
    return { address: address.toString(), trusted: trusted.has(address), proto };
  } catch {
    return { address: bare, trusted: false, proto };
  }
}
