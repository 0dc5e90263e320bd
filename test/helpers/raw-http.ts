// Sends bytes exactly as written over a plain TCP socket and collects everything until the server
// closes: for requests an HTTP client library would refuse or tidy up (framing, pipelining).
import net from 'node:net';

export async function rawExchange(port: number, request: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let received = '';
  socket.on('data', (chunk: string) => (received += chunk));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', () => resolve());
    socket.write(request, 'latin1');
  });
  return received;
}

/** The status codes of every response in `raw`, in order. */
export function statuses(raw: string): number[] {
  // Not anchored to a line start: a body without a final newline runs into the next status line.
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}
