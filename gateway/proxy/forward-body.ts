// Streams the upstream's response body on to the client, holding the upstream back while the
// client does not read: what pipe() does for this one pair, without the half-dozen listeners
// pipe() puts on both streams and takes off again for every response.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function forwardBody(body: IncomingMessage, res: ServerResponse): void {
  const resume = (): void => {
    body.resume();
  };
  body.on('data', (chunk: Buffer) => {
    if (!res.write(chunk)) {
      body.pause();
      res.once('drain', resume);
    }
  });
  body.on('end', () => res.end());
}
