// Whether a Redis answers at a URL: one inline PING over a plain socket, no client library, bounded
// by a timeout. "Answers" includes an authentication error: something is there and speaks Redis.
import net from 'node:net';

export interface RedisProbe {
  readonly answers: boolean;
  /** Why not, for the report. */
  readonly reason: string;
}

export function probeRedis(url: string, timeoutMs = 1000): Promise<RedisProbe> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.resolve({ answers: false, reason: `${url} is not a URL` });
  }
  if (parsed.protocol !== 'redis:') {
    return Promise.resolve({ answers: false, reason: `only redis:// URLs are probed (${url})` });
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(parsed.port || 6379);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let reply = '';
    const finish = (probe: RedisProbe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(probe);
    };
    const timer = setTimeout(
      () =>
        finish({ answers: false, reason: `no answer from ${host}:${port} within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (!reply.includes('\r\n')) return;
      const speaksRedis = reply.startsWith('+PONG') || reply.startsWith('-NOAUTH');
      finish({
        answers: speaksRedis,
        reason: speaksRedis ? '' : `unexpected reply ${JSON.stringify(reply)}`,
      });
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish({ answers: false, reason: `${host}:${port}: ${error.code ?? error.message}` }),
    );
  });
}
