// The Redis store's connection, made safe for the request path: every command answers or fails
// within the command timeout, nothing queues while Redis is away, the client reconnects by itself
// with backoff, and a connection that stops answering is replaced.
import { ClientOfflineError, createClient, ErrorReply } from 'redis';
import { SCRIPTS } from './redis-scripts.js';

export interface RedisConnectionOptions {
  /** redis[s]://[[user]:password@]host[:port][/db] */
  readonly url: string;
  /** A TCP (and TLS) connect slower than this fails, and the next attempt follows the backoff. */
  readonly connectTimeoutMs: number;
  /** A command without an answer within this fails; the caller's on_error policy takes over. */
  readonly commandTimeoutMs: number;
}

/** Commands waiting for Redis at most; more fail at once, so a stall cannot grow memory. */
const MAX_PENDING = 10_000;
/** Reconnect backoff: 50 ms doubling up to this, plus up to 100 ms jitter so replicas spread. */
const MAX_BACKOFF_MS = 2_000;
/** A connection is replaced (see #replace) at most this often. */
const REPLACE_INTERVAL_MS = 1_000;

function openClient(options: RedisConnectionOptions) {
  return createClient({
    url: options.url,
    // RESP2: every Redis the gateway may meet speaks it (HELLO 3 needs Redis 6).
    RESP: 2,
    scripts: SCRIPTS,
    // While disconnected, commands fail at once instead of queueing without bound.
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_PENDING,
    // The command timeout is RedisConnection.run's own timer. node-redis's default one (5 s) is
    // an AbortSignal.timeout per command, whose timer and finalization registry cost more than
    // the rest of the command in the profile.
    commandOptions: { timeout: 0 },
    socket: {
      connectTimeout: options.connectTimeoutMs,
      // Never give up: the gateway keeps serving by on_error and Redis comes back eventually.
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** retries, MAX_BACKOFF_MS) + Math.floor(Math.random() * 100),
    },
  });
}

export type RedisClient = ReturnType<typeof openClient>;

/** Redis did not answer within the command timeout. */
export class RedisTimeoutError extends Error {
  override name = 'RedisTimeoutError';
}

export class RedisConnection {
  readonly #options: RedisConnectionOptions;
  #client: RedisClient;
  #closed = false;
  /**
   * Until the first connection attempt succeeds or fails, commands wait for it (within their
   * timeout) rather than fail: a gateway that has just started is not in an outage.
   */
  #attempted = false;
  readonly #firstAttempt: Promise<void>;
  #markAttempted = () => {};
  /** performance.now() of the last answer from Redis (a reply or an error reply). */
  #lastAnswerMs = 0;
  /** The last connection error, to say why a command failed while the client is offline. */
  #lastError: Error | undefined;
  /** performance.now() of the last #replace; -Infinity: never. */
  #replacedAtMs = -Infinity;

  constructor(options: RedisConnectionOptions) {
    this.#options = options;
    this.#firstAttempt = new Promise((resolve) => (this.#markAttempted = resolve));
    this.#client = this.#open();
  }

  /**
   * Runs `command` on the current client. Settles within the command timeout: with the answer,
   * or rejected (Redis down, slow, or refusing). A command that timed out may still run later.
   */
  run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the Redis store is closed'));
    const client = this.#client;
    const sentAtMs = performance.now();
    let settled = false;
    const send = () => {
      // The first attempt ended too late for this caller, who has moved on already.
      if (settled) throw new RedisTimeoutError('Redis was not reachable in time');
      return command(client).then(
        (reply) => {
          this.#lastAnswerMs = performance.now();
          return reply;
        },
        (error: unknown) => {
          if (error instanceof ErrorReply) this.#answeredWithError(client, error);
          throw this.#explain(error);
        },
      );
    };
    const work = this.#attempted ? send() : this.#firstAttempt.then(send);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Look once more after the event loop has read the sockets: when the process itself was
        // busy (a long GC, a CPU burst), the answer may be waiting there, and Redis is fine.
        setImmediate(() => {
          if (settled) return;
          settled = true;
          const ms = this.#options.commandTimeoutMs;
          reject(new RedisTimeoutError(`Redis did not answer within ${ms}ms`));
          this.#replaceIfStalled(client, sentAtMs);
        });
      }, this.#options.commandTimeoutMs);
      // Settling twice is harmless (a promise keeps its first outcome); the flag stops the timer.
      const done = () => {
        clearTimeout(timer);
        settled = true;
      };
      work.then(
        (reply) => {
          done();
          resolve(reply);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }

  /** Drops the connection; commands still waiting fail. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#markAttempted();
    this.#client.destroy();
  }

  #open(): RedisClient {
    const client = openClient(this.#options);
    // node-redis emits 'error' on every failed (re)connect; unheard, it would crash the process.
    // Outages are reported by guardStore, once each, from the commands that fail.
    client.on('error', (error: Error) => {
      this.#lastError = error;
      this.#attempted = true;
      this.#markAttempted();
    });
    client.on('ready', () => {
      this.#attempted = true;
      this.#markAttempted();
    });
    // Resolves once connected; rejects only when the client is closed (reconnecting never ends).
    client.connect().catch(() => {});
    return client;
  }

  /**
   * Called when a command sent at `sentAtMs` got no answer in time. If nothing at all came back
   * since, on a connection that looks healthy, Redis is frozen or its host vanished without a
   * reset (TCP could take many minutes to notice): start over on a fresh connection.
   */
  #replaceIfStalled(client: RedisClient, sentAtMs: number): void {
    if (!client.isReady) return; // node-redis is reconnecting already
    if (this.#lastAnswerMs >= sentAtMs) return; // answers still flow: Redis is slow, not gone
    this.#replace(client);
  }

  #answeredWithError(client: RedisClient, error: ErrorReply): void {
    this.#lastAnswerMs = performance.now();
    // After a failover, a connection may still reach the old primary, now a replica refusing
    // writes, while DNS already names the new one: connect again.
    if (error.message.startsWith('READONLY')) this.#replace(client);
  }

  /**
   * Swaps in a fresh client, which connects with backoff while commands fail fast, and drops the
   * old one (its waiting commands fail). At most once per REPLACE_INTERVAL_MS, so a Redis that
   * keeps refusing cannot make the gateway open connections in a loop.
   */
  #replace(client: RedisClient): void {
    if (this.#closed || client !== this.#client) return;
    const nowMs = performance.now();
    if (nowMs - this.#replacedAtMs < REPLACE_INTERVAL_MS) return;
    this.#replacedAtMs = nowMs;
    this.#client = this.#open();
    client.destroy();
  }

  #explain(error: unknown): unknown {
    if (error instanceof ClientOfflineError && this.#lastError !== undefined) {
      return new Error(`Redis is not connected: ${this.#lastError.message}`, { cause: error });
    }
    return error;
  }
}
