// Streams the upstream's response body on to the client, holding the upstream back while the
// client does not read: what pipe() does for this one pair, without the half-dozen listeners
// pipe() puts on both streams and takes off again for every response. A client that reads
// nothing for `sendTimeoutMs` while the gateway has bytes for it is cut (nginx `send_timeout`):
// otherwise it would hold the upstream connection, paused by backpressure, for as long as it likes.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function forwardBody(
  body: IncomingMessage,
  res: ServerResponse,
  sendTimeoutMs: number,
  onStalled: () => void,
): void {
  let stall: NodeJS.Timeout | undefined;
  const stalled = () => {
    onStalled();
    res.destroy();
  };
  // Armed only while bytes wait for the client, so a response that flows costs no timer.
  let watching = false;
  const clientCaughtUp = () => {
    clearTimeout(stall);
    stall = undefined;
  };
  const waitForClient = () => {
    clearTimeout(stall);
    stall = setTimeout(stalled, sendTimeoutMs);
    if (watching) return;
    watching = true;
    res.once('close', clientCaughtUp);
  };
  let resumeOnDrain: (() => void) | undefined;
  body.on('data', (chunk: Buffer) => {
    if (res.write(chunk)) return;
    body.pause();
    waitForClient();
    // One listener for the response's lifetime, added the first time the client falls behind.
    if (resumeOnDrain === undefined) {
      resumeOnDrain = () => {
        clientCaughtUp();
        body.resume();
      };
      res.on('drain', resumeOnDrain);
    }
  });
  body.on('end', () => {
    res.end();
    // The last bytes may still wait for a client that stopped reading (a client that reads
    // took them at once, and no timer is armed).
    if (res.writableLength > 0) {
      waitForClient();
      res.once('finish', clientCaughtUp);
    }
  });
}
