// Whether a request reached the gateway over https: its own connection was TLS, or a trusted proxy
// in front says so in X-Forwarded-Proto. Cookies the gateway makes carry Secure when it was.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressSet } from '../client-ip/cidr.js';
import { parseClientAddress } from '../client-ip/ip-key.js';

export type HttpsTest = (req: IncomingMessage) => boolean;

export function createHttpsTest(trusted: AddressSet): HttpsTest {
  return (req) => {
    if ((req.socket as TLSSocket).encrypted === true) return true;
    const header = req.headers['x-forwarded-proto'];
    if (typeof header !== 'string') return false;
    const peer = parseClientAddress(req.socket.remoteAddress ?? '');
    if (peer === undefined || !trusted.has(peer)) return false;
    // The first entry is the scheme the client spoke to the outermost proxy.
    const comma = header.indexOf(',');
    return (comma === -1 ? header : header.slice(0, comma)).trim().toLowerCase() === 'https';
  };
}
