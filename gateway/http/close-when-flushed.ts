// Closes a raw client socket the gateway has answered: an ended socket stays open until the
// client closes its side, so one that neither reads nor closes would hold an fd for good.
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
