// The Redis key layout of the limiter. All keys of one client share a {hash tag}, so a Lua script
// may touch them together (Redis Cluster only runs scripts whose keys share a slot), and release()
// names them directly: no KEYS or SCAN on the request path.

/** The keys of one client, e.g. for prefix "cgw:" and client "203.0.113.7": cgw:{203.0.113.7}:… */
export interface ClientKeys {
  /** String: epoch ms until which the client is throttled; expires when the block ends. */
  readonly throttle: string;
  /** Hash: one field per window limit (see windowField), "start:current:previous" each. */
  readonly windows: string;
  /** String "start:current:previous": the client's captcha attempts; survives release(). */
  readonly attempts: string;
}

const THROTTLE = 'throttle';

export function clientKeys(prefix: string, client: string): ClientKeys {
  const base = `${prefix}{${client}}:`;
  return { throttle: base + THROTTLE, windows: base + 'windows', attempts: base + 'attempts' };
}

/** The hash field of a WindowLimit id ("" is the default limit, so it gets a visible name). */
export function windowField(id: string): string {
  return `w:${id}`;
}

/** A SCAN MATCH pattern for every throttle key under `prefix` (listing throttled clients). */
export function throttleKeyPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}{*}:${THROTTLE}`;
}

/** The client a throttle key found by throttleKeyPattern belongs to; undefined for other keys. */
export function clientOfThrottleKey(prefix: string, key: string): string | undefined {
  const head = `${prefix}{`;
  const tail = `}:${THROTTLE}`;
  if (!key.startsWith(head) || !key.endsWith(tail)) return undefined;
  return key.slice(head.length, key.length - tail.length);
}

/** The pub/sub channel on which a lift is announced to every replica (its message: the client). */
export function liftsChannel(prefix: string): string {
  return `${prefix}lifts`;
}
