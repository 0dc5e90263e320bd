// Streams the upstream's response body on to the client, holding the upstream back while the
// client does not read: what pipe() does for this one pair, without the half-dozen listeners
// pipe() puts on both streams and takes off again for every response.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function forwardBody(body: IncomingMessage, res: ServerResponse): void {
  let resumeOnDrain: (() => void) | undefined;
  body.on('data', (chunk: Buffer) => {
    if (res.write(chunk)) return;
    body.pause();
    // One listener for the response's lifetime, added the first time the client falls behind.
    if (resumeOnDrain === undefined) {
      resumeOnDrain = () => body.resume();
      res.on('drain', resumeOnDrain);
    }
  });
  body.on('end', () => res.end());
}
