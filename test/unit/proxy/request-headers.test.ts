// Checks the headers the upstream is sent, without sockets: hop-by-hop removal, framing, and the
// X-Forwarded-* fields for trusted and untrusted peers.
import { expect } from 'chai';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { AddressSet } from '../../../gateway/client-ip/cidr.js';
import { connectionNamed } from '../../../gateway/proxy/hop-by-hop.js';
import { createPeerLookup, type Peer } from '../../../gateway/proxy/peer.js';
import {
  upstreamRequestHeaders,
  type UpstreamHeaderOptions,
} from '../../../gateway/proxy/request-headers.js';

const trusted = new AddressSet(['loopback', 'private']);
const peerOf = createPeerLookup(trusted);
const socket = (remoteAddress: string | undefined, encrypted = false) =>
  ({ remoteAddress, encrypted }) as unknown as Socket;
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

/** The flat header block as one object: lower-case names, repeated fields in a list. */
function asObject(block: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < block.length; i += 2) {
    const name = block[i]!.toLowerCase();
    const value = block[i + 1]!;
    const seen = out[name];
    out[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return out;
}

/** A request as Node parses it: the raw lines, and the joined object (read for Connection). */
function parsed(raw: readonly string[], method = 'GET'): IncomingMessage {
  const headers: IncomingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const seen = headers[name];
    headers[name] = seen === undefined ? raw[i + 1] : `${String(seen)}, ${raw[i + 1]}`;
  }
  return { method, rawHeaders: raw, headers } as unknown as IncomingMessage;
}

const plain: UpstreamHeaderOptions = {
  webSocket: false,
  upstreamHost: 'shop:8000',
  changeOrigin: false,
};
const upstreamHeaders = (
  req: IncomingMessage,
  peer: Peer,
  { requestId, ...options }: Partial<UpstreamHeaderOptions> & { requestId?: string } = {},
) => asObject(upstreamRequestHeaders(req, peer, requestId, { ...plain, ...options }));

describe('upstreamRequestHeaders', () => {
  it('leaves the client request headers untouched', () => {
    const raw = ['Connection', 'x-a', 'X-A', '1', 'X-Forwarded-For', '198.51.100.1'];
    const req = parsed([...raw]);
    const copy = { ...req.headers };
    upstreamRequestHeaders(req, untrusted, undefined, plain);
    expect(req.headers).to.deep.equal(copy);
    expect(req.rawHeaders).to.deep.equal(raw);
  });

  it('keeps the name case, order and repeats of the fields it passes on', () => {
    const block = upstreamRequestHeaders(
      parsed(['Host', 'shop', 'Cookie', 'a=1', 'X-Custom', 'x', 'Cookie', 'b=2']),
      untrusted,
      undefined,
      plain,
    );
    expect(block.slice(0, 8)).to.deep.equal([
      'Host',
      'shop',
      'Cookie',
      'a=1',
      'X-Custom',
      'x',
      'Cookie',
      'b=2',
    ]);
  });

  it('appends the peer to X-Forwarded-For, or starts it', () => {
    const out = upstreamHeaders(parsed(['X-Forwarded-For', '198.51.100.1']), untrusted);
    expect(out['x-forwarded-for']).to.equal('198.51.100.1, 203.0.113.9');
    expect(upstreamHeaders(parsed([]), untrusted)['x-forwarded-for']).to.equal('203.0.113.9');
  });

  it('joins X-Forwarded-For lines in order into one before appending the peer', () => {
    const out = upstreamHeaders(
      parsed(['x-forwarded-for', '198.51.100.1', 'X-Forwarded-For', '10.0.0.1, 10.0.0.2']),
      untrusted,
    );
    expect(out['x-forwarded-for']).to.equal('198.51.100.1, 10.0.0.1, 10.0.0.2, 203.0.113.9');
  });

  it('replaces an X-Forwarded-For the client named in Connection with the peer alone', () => {
    const out = upstreamHeaders(
      parsed(['Connection', 'x-forwarded-for', 'X-Forwarded-For', '127.0.0.1']),
      untrusted,
    );
    expect(out['x-forwarded-for']).to.equal('203.0.113.9');
  });

  it('drops hop-by-hop fields and the fields Connection names, in any case', () => {
    const out = upstreamHeaders(
      parsed([
        'KEEP-ALIVE',
        'timeout=5',
        'Proxy-Authorization',
        'Basic x',
        'TE',
        'trailers',
        'X-Secret',
        's',
        'Connection',
        'Keep-Alive, x-secret',
        'Accept',
        '*/*',
      ]),
      untrusted,
    );
    for (const name of ['keep-alive', 'proxy-authorization', 'te', 'x-secret', 'connection']) {
      expect(out).not.to.have.property(name);
    }
    expect(out.accept).to.equal('*/*');
  });

  it('drops X-Forwarded-Host from an untrusted client that sent no Host', () => {
    const out = upstreamHeaders(parsed(['X-Forwarded-Host', 'evil.example']), untrusted);
    expect(out).not.to.have.property('x-forwarded-host');
    expect(out['x-forwarded-proto']).to.equal('http');
  });

  it('replaces X-Forwarded-Proto and -Host from an untrusted client', () => {
    const out = upstreamHeaders(
      parsed(['Host', 'shop', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil']),
      untrusted,
    );
    expect(out['x-forwarded-proto']).to.equal('http');
    expect(out['x-forwarded-host']).to.equal('shop');
  });

  it('keeps what a trusted proxy sent and fills in what it did not', () => {
    const out = upstreamHeaders(
      parsed(['host', 'internal', 'x-forwarded-proto', 'https']),
      loadBalancer,
    );
    expect(out['x-forwarded-proto']).to.equal('https');
    expect(out['x-forwarded-host']).to.equal('internal');
  });

  it("writes the upstream's Host with change_origin, and when the client sent none", () => {
    const origin = upstreamHeaders(parsed(['Host', 'shop.example']), untrusted, {
      changeOrigin: true,
    });
    expect(origin.host).to.equal('shop:8000');
    expect(origin['x-forwarded-host']).to.equal('shop.example');
    const http10 = upstreamHeaders(parsed([]), untrusted);
    expect(http10.host).to.equal('shop:8000');
    expect(http10).not.to.have.property('x-forwarded-host');
  });

  it('sends the request id in place of any the client sent', () => {
    const out = upstreamHeaders(parsed(['X-Request-Id', 'spoofed, twice']), untrusted, {
      requestId: 'abc-123',
    });
    expect(out['x-request-id']).to.equal('abc-123');
    expect(upstreamHeaders(parsed(['X-Request-Id', 'x']), untrusted)).not.to.have.property(
      'x-request-id',
    );
  });

  it('asks Node to chunk a body that came chunked, and keeps Content-Length as it came', () => {
    const chunked = upstreamHeaders(parsed(['Transfer-Encoding', 'chunked'], 'POST'), untrusted);
    expect(chunked['transfer-encoding']).to.equal('chunked');
    const sized = upstreamHeaders(parsed(['Content-Length', '5'], 'POST'), untrusted);
    expect(sized['content-length']).to.equal('5');
    expect(sized).not.to.have.property('transfer-encoding');
  });

  it('says Content-Length: 0 for a POST that came without a body, and nothing for a GET', () => {
    expect(upstreamHeaders(parsed([], 'POST'), untrusted)['content-length']).to.equal('0');
    expect(upstreamHeaders(parsed([], 'GET'), untrusted)).not.to.have.property('content-length');
  });

  it('keeps Connection: upgrade and Upgrade for a WebSocket handshake only', () => {
    const handshake = parsed([
      'Connection',
      'keep-alive, Upgrade, x-a',
      'Upgrade',
      'websocket',
      'X-A',
      '1',
      'Sec-WebSocket-Key',
      'k',
    ]);
    const ws = upstreamHeaders(handshake, untrusted, { webSocket: true });
    expect(ws).to.deep.include({
      connection: 'upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'k',
    });
    expect(ws).not.to.have.property('x-a');
    const web = upstreamHeaders(handshake, untrusted);
    expect(web).not.to.have.property('connection');
    expect(web).not.to.have.property('upgrade');
  });
});
