// Closes a raw client socket the gateway has answered: an ended socket stays open until the
// client closes its side, so one that neither reads nor closes would hold an fd for good.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Ends `socket` (after writing `answer`, if given) and destroys it once that is flushed, or after
 * `timeoutMs` if the client does not read it.
 */
export function closeWhenFlushed(socket: Duplex, timeoutMs: number, answer?: string): void {
  if (socket.destroyed) return;
  const cut = setTimeout(() => socket.destroy(), timeoutMs);
  socket.once('close', () => clearTimeout(cut));
  const destroy = () => socket.destroy();
  if (answer === undefined) socket.end(destroy);
  else socket.end(answer, destroy);
}

/**
 * The whole of an answer the gateway writes on a raw socket itself (a refused upgrade or CONNECT,
 * a parser error): no body, never cached, and the connection closes after it.
 */
export function rawAnswer(status: number, headers = ''): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${headers}connection: close\r\ncache-control: no-store\r\ncontent-length: 0\r\n\r\n`;
}
