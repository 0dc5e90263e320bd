// Holds `count` idle keep-alive connections to a server: each makes one GET (so the server has
// parsed a request on it and keeps it as a keep-alive connection), reads the whole answer, and
// then stays open and silent until the bench stops this process. Announces (port 0) once all are
// idle, or refuses with how many it could open.
import net from 'node:net';
import { announce, childInput, exitWithParent, refuse } from './child.js';

const { port, count, concurrency, path } = childInput<{
  port: number;
  count: number;
  concurrency: number;
  path: string;
}>();
exitWithParent();

const held: net.Socket[] = [];
const REQUEST = `GET ${path} HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: 192.0.2.9\r\nAccept: application/json\r\n\r\n`;

/** Opens one connection, makes one request on it, resolves once its answer is read whole. */
function openOne(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(REQUEST));
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const length = /content-length:\s*(\d+)/i.exec(received.toString('latin1', 0, headEnd));
      if (!length) return reject(new Error('an answer without Content-Length'));
      if (received.length < headEnd + 4 + Number(length[1])) return;
      socket.off('data', onData);
      socket.off('error', reject);
      // A server closing an idle connection is a figure too: it just drops out of the count.
      socket.on('error', () => socket.destroy());
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

try {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      held.push(await openOne());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  announce(0);
} catch (error) {
  refuse(`${held.length} of ${count} connections open: ${(error as Error).message}`);
}
