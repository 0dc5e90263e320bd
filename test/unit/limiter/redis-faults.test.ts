// The Redis store against a redis-server of its own that the tests kill, freeze and restart, or
// start with a password or TLS: it never hangs past the command timeout and recovers by itself.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisTimeoutError } from '../../../gateway/limiter/redis-connection.js';
import { clientKeys } from '../../../gateway/limiter/redis-keys.js';
import { RedisStore } from '../../../gateway/limiter/redis-store.js';
import type { WindowLimit } from '../../../gateway/limiter/store.js';
import {
  freePort,
  inspector,
  needRedisServer,
  selfSignedCertificate,
  startRedisServer,
  type RedisServer,
} from '../../helpers/redis-server.js';

const COMMAND_TIMEOUT_MS = 200;
/** Generous: the bound proves "no hang", not the timer's precision on a busy CI machine. */
const NO_HANG_MS = COMMAND_TIMEOUT_MS + 800;
const limit: WindowLimit = { id: '', limit: 3, windowMs: 60_000 };
const T0 = 1_700_000_040_000;

function storeAt(url: string): RedisStore {
  return new RedisStore({
    target: { mode: 'single', url },
    prefix: 'cgw:',
    throttleCache: { maxClients: 1000, recheckMs: 5000 },
    connectTimeoutMs: 500,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  });
}

/** How long `call` took to settle, and how (the error when it rejected). */
async function timed(call: Promise<unknown>): Promise<{ ms: number; error?: unknown }> {
  const start = performance.now();
  try {
    await call;
    return { ms: performance.now() - start };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}

/** Polls `call` until it resolves; "Redis answers again" has no event to await. */
async function eventually<T>(call: () => Promise<T>, withinMs = 8000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const answersAgain = (store: RedisStore) => eventually(() => store.ping());

describe('RedisStore faults (a redis-server of its own)', function () {
  let server: RedisServer | undefined;
  let store: RedisStore | undefined;

  before(async function () {
    await needRedisServer(this);
  });
  afterEach(async () => {
    await store?.close();
    await server?.close();
    store = server = undefined;
  });

  it('fails fast while Redis is not there at start, and connects once it is', async () => {
    const port = await freePort();
    store = storeAt(`redis://127.0.0.1:${port}`);
    const attempts = await Promise.all([
      timed(store.hit('a', [limit], 60_000, T0)),
      timed(store.ping()),
    ]);
    for (const { ms, error } of attempts) {
      expect(error).to.be.instanceOf(Error);
      expect(ms).to.be.below(NO_HANG_MS);
    }
    server = await startRedisServer({ port });
    await answersAgain(store);
    expect(await store.hit('a', [limit], 60_000, T0)).to.equal(0);
  });

  it('fails at once while Redis is dead, and reconnects by itself when it is back', async () => {
    server = await startRedisServer();
    store = storeAt(server.url);
    await store.hit('a', [limit], 60_000, T0);
    await server.kill();
    // Many callers at once: none waits in an offline queue.
    const during = await Promise.all(
      Array.from({ length: 50 }, () => timed(store!.hit('a', [limit], 60_000, T0))),
    );
    for (const { ms, error } of during) {
      expect(error).to.be.instanceOf(Error);
      expect(ms).to.be.below(NO_HANG_MS);
    }
    const ping = await timed(store.ping());
    expect(ping.error, 'ping while Redis is down').to.be.instanceOf(Error);
    await server.restart();
    await answersAgain(store);
    // The restarted Redis is empty: counting starts over and works as before.
    for (let i = 0; i < 3; i++) expect(await store.hit('a', [limit], 60_000, T0)).to.equal(0);
    expect(await store.hit('a', [limit], 60_000, T0)).to.equal(T0 + 60_000);
  });

  it('gives up on a frozen Redis within the command timeout and recovers when it thaws', async () => {
    server = await startRedisServer();
    store = storeAt(server.url);
    await store.ping();
    server.freeze();
    const first = await timed(store.hit('a', [limit], 60_000, T0));
    expect(first.error).to.be.instanceOf(RedisTimeoutError);
    expect(first.ms).to.be.within(COMMAND_TIMEOUT_MS - 20, NO_HANG_MS);
    const later = await Promise.all(
      Array.from({ length: 20 }, () => timed(store!.hit('a', [limit], 60_000, T0))),
    );
    // The silent connection was replaced: later commands fail at once, not after the timeout.
    for (const { ms, error } of later) {
      expect(error).to.be.instanceOf(Error).and.not.instanceOf(RedisTimeoutError);
      expect(ms).to.be.below(NO_HANG_MS);
    }
    server.thaw();
    await answersAgain(store);
    // The first hit, already written, may have run once Redis woke up; the others never left
    // (they failed at once while the replacement connection was not ready).
    let passed = 0;
    while (passed < 10 && (await store.hit('a', [limit], 60_000, T0)) === 0) passed += 1;
    expect(passed).to.be.oneOf([2, 3]);
  });

  it('fails fast on a replica that refuses writes, and counts again once it is the primary', async () => {
    server = await startRedisServer();
    store = storeAt(server.url);
    await store.ping();
    const admin = await inspector(server.url);
    try {
      // What a connection to the old primary sees after a failover.
      await admin.sendCommand(['REPLICAOF', '127.0.0.1', String(await freePort())]);
      const refused = await timed(store.hit('a', [limit], 60_000, T0));
      expect(String(refused.error)).to.match(/READONLY/);
      expect(refused.ms).to.be.below(NO_HANG_MS);
      await admin.sendCommand(['REPLICAOF', 'NO', 'ONE']);
      expect(await eventually(() => store!.hit('a', [limit], 60_000, T0))).to.equal(0);
      // Replaced at most once a second: a few connections, not one per refused command.
      const clients = String(await admin.sendCommand(['CLIENT', 'LIST']))
        .trim()
        .split('\n');
      expect(clients.length).to.be.at.most(4);
    } finally {
      admin.destroy();
    }
  });

  it('authenticates with the password in the URL and keeps its keys in the database index', async () => {
    server = await startRedisServer({ password: 'p@ss word' });
    store = storeAt(`${server.url}/3`);
    await store.hit('a', [limit], 60_000, T0);
    const inDb3 = await inspector(`${server.url}/3`);
    const inDb0 = await inspector(server.url);
    try {
      const { windows } = clientKeys('cgw:', 'a');
      expect(await inDb3.exists(windows)).to.equal(1);
      expect(await inDb0.exists(windows)).to.equal(0);
    } finally {
      inDb3.destroy();
      inDb0.destroy();
    }
  });

  it('refuses a wrong password without crashing, and says why', async () => {
    server = await startRedisServer({ password: 'right' });
    store = storeAt(`redis://:wrong@127.0.0.1:${server.port}`);
    const { ms, error } = await timed(store.ping());
    expect(ms).to.be.below(NO_HANG_MS);
    expect(String(error)).to.match(/WRONGPASS|invalid password/i);
  });

  describe('over TLS (rediss://)', () => {
    let dir: string;
    let tlsServer: RedisServer | undefined;
    before(async function () {
      dir = await mkdtemp(path.join(os.tmpdir(), 'cgw-tls-'));
      const certificate = await selfSignedCertificate(dir);
      if (certificate === undefined) {
        console.warn('      skipped: openssl is not installed (needed for a test certificate)');
        this.skip();
      }
      try {
        tlsServer = await startRedisServer({ tls: certificate });
      } catch (error) {
        console.warn(`      skipped: this redis-server does not serve TLS (${String(error)})`);
        this.skip();
      }
    });
    after(async () => {
      await tlsServer?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses a certificate it cannot verify, without crashing', async () => {
      store = storeAt(tlsServer!.url);
      const { ms, error } = await timed(store.ping());
      expect(ms).to.be.below(NO_HANG_MS);
      expect(String(error)).to.match(/certificate/i);
    });

    it('connects when the CA is trusted through NODE_EXTRA_CA_CERTS', async () => {
      // Node reads NODE_EXTRA_CA_CERTS at start only, hence a child process.
      const storeModule = fileURLToPath(
        new URL('../../../gateway/limiter/redis-store.ts', import.meta.url),
      );
      const script = `
        const { RedisStore } = await import(${JSON.stringify(storeModule)});
        const store = new RedisStore({
          target: { mode: 'single', url: ${JSON.stringify(tlsServer!.url)} }, prefix: 'cgw:',
          connectTimeoutMs: 2000, commandTimeoutMs: 2000,
          throttleCache: { maxClients: 1000, recheckMs: 5000 } });
        try {
          await store.ping();
          process.stdout.write(String(await store.hit('a', [{ id: '', limit: 1, windowMs: 60000 }], 1000, 0)));
        } finally {
          await store.close();
        }`;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, 'cert.pem') },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
      child.stderr.on('data', (chunk: Buffer) => (err += String(chunk)));
      const [code] = (await once(child, 'exit')) as [number];
      expect(code, err).to.equal(0);
      expect(out).to.equal('0');
    });
  });
});
