// Hands an upgrade the gateway does not tunnel (h2c from `curl --http2`, Java's HttpClient, or
// any protocol but WebSocket) back to the HTTP server as the plain HTTP/1.1 request it also is
// (RFC 9110 §7.8: a server may ignore Upgrade). Node's server reads an upgrade request's head and
// gives up the socket; the head is written back in front of the bytes still unread, without the
// Upgrade field, and the socket is handed to the server again ('connection' is documented as the
// way to inject one), so the request takes the gateway's normal path and is never upgraded.
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export function replayWithoutUpgrade(
  server: Server,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  // Node's parser reads header bytes as latin1, so writing them back as latin1 is byte for byte.
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === 'upgrade') continue;
    const value = lower === 'connection' ? withoutUpgradeToken(raw[i + 1]!) : raw[i + 1]!;
    if (value !== '') text += `${name}: ${value}\r\n`;
  }
  socket.unshift(Buffer.concat([Buffer.from(`${text}\r\n`, 'latin1'), head]));
  server.emit('connection', socket as Socket);
}

function withoutUpgradeToken(value: string): string {
  return value
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '' && token.toLowerCase() !== 'upgrade')
    .join(', ');
}
