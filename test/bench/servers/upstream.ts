// The fast upstream: a canned-answer HTTP/1.1 server on raw sockets, so the upstream costs far less
// than the proxy in front of it and never sets the pace. It reads request heads (the bench only
// sends GETs without bodies) and answers each in order: `/64k` with 65,536 bytes, anything else
// with 100 bytes. Keep-alive, no parsing beyond the request line.
import net from 'node:net';
import { serve } from './child.js';

function cannedResponse(bodyBytes: number): Buffer {
  const head =
    'HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n' +
    `content-length: ${bodyBytes}\r\nconnection: keep-alive\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(bodyBytes, 0x61)]);
}

const SMALL = cannedResponse(100);
const LARGE = cannedResponse(64 * 1024);
const END_OF_HEAD = '\r\n\r\n';

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  let pending = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let end = pending.indexOf(END_OF_HEAD);
    while (end !== -1) {
      // The request line is `GET /64k HTTP/1.1`: the target starts after the first space.
      const target = pending.slice(pending.indexOf(' ') + 1, pending.indexOf(' ') + 5);
      socket.write(target === '/64k' ? LARGE : SMALL);
      pending = pending.slice(end + END_OF_HEAD.length);
      end = pending.indexOf(END_OF_HEAD);
    }
    if (pending.length > 64 * 1024) socket.destroy(); // not a request the bench sends
  });
});

serve(server);
