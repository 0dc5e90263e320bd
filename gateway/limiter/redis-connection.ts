// The Redis store's connection, made safe for the request path: every command answers or fails
// within the command timeout, nothing queues while Redis is away, the client reconnects by itself
// with backoff (and follows a Sentinel or Cluster failover), and a connection that stops answering
// is replaced.
import { ClientOfflineError, ErrorReply } from 'redis';
import {
  MAX_BACKOFF_MS,
  openTopology,
  type Primary,
  type RedisCommands,
  type RedisTarget,
  type RedisTopology,
} from './redis-topology.js';

export interface RedisConnectionOptions {
  readonly target: RedisTarget;
  /** A TCP (and TLS) connect slower than this fails, and the next attempt follows the backoff. */
  readonly connectTimeoutMs: number;
  /** A command without an answer within this fails; the caller's on_error policy takes over. */
  readonly commandTimeoutMs: number;
}

/** Commands waiting for Redis at most; more fail at once, so a stall cannot grow memory. */
const MAX_PENDING = 10_000;
/** A command refused with TRYAGAIN (a Cluster slot in migration) is sent again after this. */
const TRYAGAIN_DELAY_MS = 20;
/** A connection is replaced (see #replace) at most this often. */
const REPLACE_INTERVAL_MS = 1_000;

/** Redis did not answer within the command timeout. */
export class RedisTimeoutError extends Error {
  override name = 'RedisTimeoutError';
}

/** A subscription kept across reconnects and replaced connections. */
interface Subscription {
  readonly channel: string;
  readonly listener: (message: string) => void;
  /** Messages may have been missed: the connection was down, or has just been replaced. */
  readonly onGap: () => void;
}

export class RedisConnection {
  readonly #options: RedisConnectionOptions;
  #topology: RedisTopology;
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
  /** Commands sent and not yet settled for their callers. */
  #pending = 0;
  #subscription: Subscription | undefined;

  constructor(options: RedisConnectionOptions) {
    this.#options = options;
    this.#firstAttempt = new Promise((resolve) => (this.#markAttempted = resolve));
    this.#topology = this.#open();
  }

  /**
   * Runs `command` with the current connection's commands. Settles within the command timeout:
   * with the answer, or rejected (Redis down, slow, or refusing). A command that timed out may
   * still run later.
   */
  run<T>(command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#run((topology) => command(topology.commands));
  }

  /** Every primary, ordered by address (one in single and Sentinel modes). */
  primaries(): Promise<Primary[]> {
    return this.#run((topology) => topology.primaries());
  }

  /** Runs `command` on one primary, within the command timeout. */
  onPrimary<T>(primary: Primary, command: (primary: Primary) => Promise<T>): Promise<T> {
    return this.#run(() => command(primary));
  }

  ping(): Promise<void> {
    return this.#run((topology) => topology.ping());
  }

  /**
   * Listens on `channel` from now on, across reconnects, failovers and replaced connections.
   * `onGap` is called whenever messages may have been missed (the subscription was down).
   */
  subscribe(subscription: Subscription): void {
    this.#subscription = subscription;
    this.#subscribeOn(this.#topology);
  }

  /** Drops the connection; commands still waiting fail. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#markAttempted();
    this.#topology.destroy();
  }

  #run<T>(command: (topology: RedisTopology) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the Redis store is closed'));
    if (this.#pending >= MAX_PENDING) {
      return Promise.reject(new RedisTimeoutError(`${MAX_PENDING} Redis commands are waiting`));
    }
    const topology = this.#topology;
    const sentAtMs = performance.now();
    let settled = false;
    const send = (): Promise<T> => {
      // The first attempt ended too late for this caller, who has moved on already.
      if (settled) throw new RedisTimeoutError('Redis was not reachable in time');
      return command(topology).then(
        (reply) => {
          this.#lastAnswerMs = performance.now();
          return reply;
        },
        (error: unknown) => {
          if (error instanceof ErrorReply) {
            this.#answeredWithError(topology, error);
            // A Cluster slot in migration: a script whose keys are not all on one side yet (a
            // client's throttle key usually does not exist) is refused until the slot has moved.
            // Ask again shortly, until the command timeout gives up on it.
            if (error.message.startsWith('TRYAGAIN') && !settled) {
              return new Promise<void>((resolve) => setTimeout(resolve, TRYAGAIN_DELAY_MS)).then(
                send,
              );
            }
          }
          throw this.#explain(error);
        },
      );
    };
    const work = this.#attempted ? send() : this.#firstAttempt.then(send);
    this.#pending += 1;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Look once more after the event loop has read the sockets: when the process itself was
        // busy (a long GC, a CPU burst), the answer may be waiting there, and Redis is fine.
        setImmediate(() => {
          if (settled) return;
          settled = true;
          const ms = this.#options.commandTimeoutMs;
          reject(new RedisTimeoutError(`Redis did not answer within ${ms}ms`));
          this.#replaceIfStalled(topology, sentAtMs);
        });
      }, this.#options.commandTimeoutMs);
      // Settling twice is harmless (a promise keeps its first outcome); the flag stops the timer.
      const done = () => {
        clearTimeout(timer);
        settled = true;
      };
      // Counted until node-redis lets go of the command, not until the caller gave up on it:
      // a command stuck in a reconnect still holds memory.
      work
        .then(
          (reply) => {
            done();
            resolve(reply);
          },
          (error: unknown) => {
            done();
            reject(error);
          },
        )
        .finally(() => (this.#pending -= 1));
    });
  }

  #open(): RedisTopology {
    const topology = openTopology(this.#options);
    // node-redis emits 'error' on every failed (re)connect; unheard, it would crash the process.
    // Outages are reported by guardStore, once each, from the commands that fail.
    topology.onError((error: Error) => {
      this.#lastError = error;
      this.#attempted = true;
      this.#markAttempted();
    });
    topology.onReady(() => {
      this.#attempted = true;
      this.#markAttempted();
      // Back after a disconnect or a failover: lifts published meanwhile were not heard.
      this.#subscription?.onGap();
    });
    topology.connect().then(
      () => {
        this.#attempted = true;
        this.#markAttempted();
        if (this.#subscription) this.#subscribeOn(topology);
      },
      (error: unknown) => {
        // Sentinel and Cluster give up when no node answers at first; a single client only
        // rejects when closed. Start over on a fresh connection after the longest backoff.
        if (error instanceof Error) this.#lastError = error;
        this.#attempted = true;
        this.#markAttempted();
        setTimeout(() => this.#replace(topology), MAX_BACKOFF_MS).unref();
      },
    );
    return topology;
  }

  #subscribeOn(topology: RedisTopology): void {
    const subscription = this.#subscription;
    if (!subscription || this.#closed || topology !== this.#topology || !topology.isReady) return;
    topology.subscribe(subscription.channel, subscription.listener).then(
      () => subscription.onGap(),
      () => setTimeout(() => this.#subscribeOn(topology), MAX_BACKOFF_MS).unref(),
    );
  }

  /**
   * Called when a command sent at `sentAtMs` got no answer in time. If nothing at all came back
   * since, on a connection that looks healthy, Redis is frozen or its host vanished without a
   * reset (TCP could take many minutes to notice): start over on a fresh connection.
   */
  #replaceIfStalled(topology: RedisTopology, sentAtMs: number): void {
    if (!topology.isReady) return; // node-redis is reconnecting already
    if (this.#lastAnswerMs >= sentAtMs) return; // answers still flow: Redis is slow, not gone
    this.#replace(topology);
  }

  #answeredWithError(topology: RedisTopology, error: ErrorReply): void {
    this.#lastAnswerMs = performance.now();
    // After a failover, a connection may still reach the old primary, now a replica refusing
    // writes, while DNS already names the new one: connect again.
    if (error.message.startsWith('READONLY')) this.#replace(topology);
  }

  /**
   * Swaps in a fresh connection, which connects with backoff while commands fail fast, and drops
   * the old one (its waiting commands fail). At most once per REPLACE_INTERVAL_MS, so a Redis
   * that keeps refusing cannot make the gateway open connections in a loop.
   */
  #replace(topology: RedisTopology): void {
    if (this.#closed || topology !== this.#topology) return;
    const nowMs = performance.now();
    if (nowMs - this.#replacedAtMs < REPLACE_INTERVAL_MS) return;
    this.#replacedAtMs = nowMs;
    this.#topology = this.#open();
    topology.destroy();
  }

  #explain(error: unknown): unknown {
    if (error instanceof ClientOfflineError && this.#lastError !== undefined) {
      return new Error(`Redis is not connected: ${this.#lastError.message}`, { cause: error });
    }
    return error;
  }
}
