// Real Redis for tests: the shared one at REDIS_URL (skipped, or failed under REQUIRE_REDIS=1,
// when it does not answer), and throwaway redis-server processes on free ports that fault tests
// kill, freeze and restart.
//
//   const redis = await startRedisServer({ password: 's3cret' });
//   redis.url          // redis://:s3cret@127.0.0.1:PORT
//   await redis.kill(); await redis.restart();   // same port, empty data
//   redis.freeze(); redis.thaw();                 // SIGSTOP / SIGCONT: a Redis that hangs
//   await redis.close();
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const REQUIRED = process.env.REQUIRE_REDIS === '1';

/** A prefix no other test (or run) uses: `test:<random>:`. */
export function randomPrefix(): string {
  return `test:${randomBytes(6).toString('hex')}:`;
}

/** A client for assertions on what the store wrote; the caller closes it with destroy(). */
export async function inspector(url = REDIS_URL) {
  const client = createClient({
    url,
    RESP: 2,
    socket: { connectTimeout: 1000, reconnectStrategy: false },
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Deletes every key under `prefix` (SCAN, so a shared Redis is not blocked). */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const client = await inspector(url);
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    client.destroy();
  }
}

let reachable: Promise<boolean> | undefined;

/**
 * For a suite's before hook: skips the suite when the shared Redis does not answer, or fails it
 * when REQUIRE_REDIS=1 (CI must not pass by skipping).
 */
export async function needRedis(context: Mocha.Context): Promise<void> {
  reachable ??= (async () => {
    const client = await inspector();
    try {
      return (await client.ping()) === 'PONG';
    } finally {
      client.destroy();
    }
  })().catch(() => false);
  if (await reachable) return;
  const why = `Redis at ${REDIS_URL} does not answer`;
  if (REQUIRED) throw new Error(`${why} (REQUIRE_REDIS=1)`);
  console.warn(`      skipped: ${why}; start one or set REDIS_URL (REQUIRE_REDIS=1 fails instead)`);
  context.skip();
}

/** For a suite's before hook: like needRedis, for suites that start their own redis-server. */
export async function needRedisServer(context: Mocha.Context): Promise<void> {
  const found = await new Promise<boolean>((resolve) => {
    const probe = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    probe.once('error', () => resolve(false));
    probe.once('exit', (code) => resolve(code === 0));
  });
  if (found) return;
  const why = 'redis-server is not on the PATH';
  if (REQUIRED) throw new Error(`${why} (REQUIRE_REDIS=1)`);
  console.warn(`      skipped: ${why}`);
  context.skip();
}

export interface RedisServerOptions {
  /** Sets requirepass; the url carries it. */
  readonly password?: string;
  /** A port to use (e.g. one a store already points at); default: a free one. */
  readonly port?: number;
  /** TLS only (rediss://localhost:PORT), with this certificate; see selfSignedCertificate. */
  readonly tls?: Certificate;
  /** More redis-server options, e.g. ['--replicaof', '127.0.0.1', '6379']. */
  readonly args?: readonly string[];
}

export interface Certificate {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface RedisServer {
  readonly port: number;
  /** redis://[:password@]127.0.0.1:PORT, or rediss://localhost:PORT with tls */
  readonly url: string;
  /** SIGKILL: connections drop at once, as when a Redis pod dies. */
  kill(): Promise<void>;
  /** Starts again on the same port (with no data); resolves once it accepts connections. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers. */
  freeze(): void;
  /** SIGCONT */
  thaw(): void;
  close(): Promise<void>;
}

/** A free loopback port (there is a small race until redis-server binds it; start retries). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (options.port !== undefined) return serverOn(options.port, options);
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    try {
      return await serverOn(port, options);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

async function serverOn(port: number, options: RedisServerOptions): Promise<RedisServer> {
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.tls) {
    const { certFile, keyFile } = options.tls;
    args.push('--port', '0', '--tls-port', String(port), '--tls-auth-clients', 'no');
    args.push('--tls-cert-file', certFile, '--tls-key-file', keyFile);
  } else {
    args.push('--port', String(port));
  }
  if (options.password !== undefined) args.push('--requirepass', options.password);
  args.push(...(options.args ?? []));
  let child = await spawnReady(args);
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  return {
    port,
    url: options.tls ? `rediss://${auth}localhost:${port}` : `redis://${auth}127.0.0.1:${port}`,
    async kill() {
      await stop(child);
    },
    async restart() {
      await stop(child);
      child = await spawnReady(args);
    },
    freeze() {
      child.kill('SIGSTOP');
    },
    thaw() {
      child.kill('SIGCONT');
    },
    async close() {
      child.kill('SIGCONT');
      await stop(child);
    },
  };
}

/** Spawns redis-server (or `command`) and resolves when it logs `ready`. */
export async function spawnReady(
  args: readonly string[],
  { command = 'redis-server', ready = 'Ready to accept connections' } = {},
): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += String(chunk);
      if (output.includes(ready)) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.resume();
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}):\n${output}`)));
  });
  return child;
}

/** SIGKILL, and resolves once the process is gone. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * A self-signed certificate for localhost and 127.0.0.1 in `dir` (its own CA, so a client trusts
 * it through NODE_EXTRA_CA_CERTS=certFile). Undefined when openssl is not installed.
 */
export async function selfSignedCertificate(dir: string): Promise<Certificate | undefined> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'];
  args.push('-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost');
  args.push('-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  const openssl = spawn('openssl', args, { stdio: 'ignore' });
  const [code] = (await Promise.race([
    once(openssl, 'exit'),
    once(openssl, 'error').then(() => [-1]),
  ])) as [number | null];
  return code === 0 ? { certFile, keyFile } : undefined;
}

/** Polls `call` until it resolves truthy; for states that have no event to await (a failover). */
export async function eventually<T>(
  call: () => Promise<T>,
  { withinMs = 20_000, everyMs = 100, what = 'the condition' } = {},
): Promise<T> {
  const deadline = Date.now() + withinMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await call();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not hold within ${withinMs}ms`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
