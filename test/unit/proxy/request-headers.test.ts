// Checks the headers the upstream is sent, without sockets: hop-by-hop removal, framing, and the
// X-Forwarded-* fields for trusted and untrusted peers (CONTRACT §7).
import { expect } from 'chai';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { AddressSet } from '../../../gateway/client-ip/cidr.js';
import { connectionNamed } from '../../../gateway/proxy/hop-by-hop.js';
import { createPeerLookup, type Peer } from '../../../gateway/proxy/peer.js';
import { upstreamRequestHeaders } from '../../../gateway/proxy/request-headers.js';

const trusted = new AddressSet(['loopback', 'private']);
const peerOf = createPeerLookup(trusted);
const socket = (remoteAddress: string | undefined, encrypted = false) =>
  ({ remoteAddress, encrypted }) as unknown as Socket;
const request = (headers: IncomingHttpHeaders) => ({ headers }) as IncomingMessage;
const untrusted: Peer = { address: '203.0.113.9', trusted: false, proto: 'http' };
const loadBalancer: Peer = { address: '10.0.0.5', trusted: true, proto: 'http' };

describe('createPeerLookup', () => {
  it('writes an IPv4-mapped peer as IPv4 and matches it against IPv4 ranges', () => {
    expect(peerOf(socket('::ffff:10.1.2.3'))).to.deep.equal({
      address: '10.1.2.3',
      trusted: true,
      proto: 'http',
    });
  });

  it('drops the zone id of a link-local peer', () => {
    expect(peerOf(socket('fe80::1%eth0'))).to.deep.include({ address: 'fe80::1', trusted: false });
  });

  it('says https for a TLS connection', () => {
    expect(peerOf(socket('203.0.113.9', true))).to.deep.equal({
      address: '203.0.113.9',
      trusted: false,
      proto: 'https',
    });
  });

  it('knows no peer for a closed socket', () => {
    expect(peerOf(socket(undefined))).to.equal(undefined);
  });

  it('works a connection out once and answers its later requests from the cache', () => {
    const connection = socket('198.51.100.4');
    const first = peerOf(connection);
    expect(peerOf(connection)).to.equal(first);
  });
});

describe('connectionNamed', () => {
  it('allocates nothing for the usual keep-alive and close', () => {
    expect(connectionNamed('keep-alive')).to.equal(undefined);
    expect(connectionNamed('Close')).to.equal(undefined);
    expect(connectionNamed(undefined)).to.equal(undefined);
  });

  it('collects the named fields in lower case from every Connection line', () => {
    const named = connectionNamed(['Keep-Alive, X-A ,x-b', ' X-C']);
    expect([...(named ?? [])]).to.deep.equal(['x-a', 'x-b', 'x-c']);
  });

  it('never names the framing field Content-Length or Host', () => {
    expect(connectionNamed('content-length, Host')).to.equal(undefined);
  });
});

describe('upstreamRequestHeaders', () => {
  it('leaves the client request headers object untouched', () => {
    const headers = { connection: 'x-a', 'x-a': '1', 'x-forwarded-for': '198.51.100.1' };
    const copy = { ...headers };
    upstreamRequestHeaders(request(headers), untrusted, false);
    expect(headers).to.deep.equal(copy);
  });

  it('appends the peer to X-Forwarded-For, or starts it', () => {
    const out = upstreamRequestHeaders(
      request({ 'x-forwarded-for': '198.51.100.1' }),
      untrusted,
      false,
    );
    expect(out['x-forwarded-for']).to.equal('198.51.100.1, 203.0.113.9');
    expect(upstreamRequestHeaders(request({}), untrusted, false)['x-forwarded-for']).to.equal(
      '203.0.113.9',
    );
  });

  it('replaces an X-Forwarded-For the client named in Connection with the peer alone', () => {
    const out = upstreamRequestHeaders(
      request({ connection: 'x-forwarded-for', 'x-forwarded-for': '127.0.0.1' }),
      untrusted,
      false,
    );
    expect(out['x-forwarded-for']).to.equal('203.0.113.9');
  });

  it('drops X-Forwarded-Host from an untrusted client that sent no Host', () => {
    const out = upstreamRequestHeaders(
      request({ 'x-forwarded-host': 'evil.example' }),
      untrusted,
      false,
    );
    expect(out).not.to.have.property('x-forwarded-host');
    expect(out['x-forwarded-proto']).to.equal('http');
  });

  it('keeps what a trusted proxy sent and fills in what it did not', () => {
    const out = upstreamRequestHeaders(
      request({ host: 'internal', 'x-forwarded-proto': 'https' }),
      loadBalancer,
      false,
    );
    expect(out['x-forwarded-proto']).to.equal('https');
    expect(out['x-forwarded-host']).to.equal('internal');
  });

  it('asks Node to chunk a body that came chunked, and keeps Content-Length as it came', () => {
    const chunked = upstreamRequestHeaders(
      request({ 'transfer-encoding': 'gzip, chunked' }),
      untrusted,
      false,
    );
    expect(chunked['transfer-encoding']).to.equal('chunked');
    const sized = upstreamRequestHeaders(request({ 'content-length': '5' }), untrusted, false);
    expect(sized['content-length']).to.equal('5');
    expect(sized).not.to.have.property('transfer-encoding');
  });

  it('keeps Connection: upgrade and Upgrade for a WebSocket handshake only', () => {
    const handshake = {
      connection: 'keep-alive, Upgrade, x-a',
      upgrade: 'websocket',
      'x-a': '1',
      'sec-websocket-key': 'k',
    };
    const ws = upstreamRequestHeaders(request(handshake), untrusted, true);
    expect(ws).to.deep.include({
      connection: 'upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'k',
    });
    expect(ws).not.to.have.property('x-a');
    const web = upstreamRequestHeaders(request(handshake), untrusted, false);
    expect(web).not.to.have.property('connection');
    expect(web).not.to.have.property('upgrade');
  });
});
