// Clearances: what a passed captcha buys. A signed value (random id, expiry, HMAC) that any replica
// holding the same key can check; nothing is stored. The id is what the limiter counts.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Clearance {
  /** 32 lower-case hex characters: random, never reused. Safe to log (useless without the MAC). */
  readonly id: string;
  /** Epoch milliseconds after which the clearance is worth nothing. */
  readonly expiresMs: number;
}

export interface ClearanceTokens {
  /** A new clearance and its signed value, valid for the configured ttl. */
  grant(): { readonly clearance: Clearance; readonly value: string };
  /** The clearance a value stands for; undefined when forged, expired or malformed. Never throws. */
  check(value: string): Clearance | undefined;
}

export interface ClearanceTokenOptions {
  readonly key: Buffer;
  readonly ttlMs: number;
  /** Epoch milliseconds. */
  readonly now: () => number;
}

// Layout: <id: 32 hex>.<expiry: epoch seconds, base 36>.<HMAC-SHA256: 43 base64url>. Cookie-safe
// characters only, no comma, no quote, so the value survives any relay that joins cookies.
const SHAPE = /^([0-9a-f]{32})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{43})$/;
// Domain separation: the key also signs CSRF tokens; a MAC of one kind means nothing as the other.
const PURPOSE = 'captcha-gateway/clearance/v1\n';

export function createClearanceTokens({ key, ttlMs, now }: ClearanceTokenOptions): ClearanceTokens {
  const mac = (id: string, expiry: string): Buffer =>
    createHmac('sha256', key).update(`${PURPOSE}${id}.${expiry}`).digest();

  return {
    grant() {
      const id = randomBytes(16).toString('hex');
      const expiresS = Math.ceil((now() + ttlMs) / 1000);
      const expiry = expiresS.toString(36);
      const value = `${id}.${expiry}.${mac(id, expiry).toString('base64url')}`;
      return { clearance: { id, expiresMs: expiresS * 1000 }, value };
    },

    check(value) {
      const parts = SHAPE.exec(value);
      if (parts === null) return undefined;
      const [, id, expiry, given] = parts as unknown as [string, string, string, string];
      const expiresMs = parseInt(expiry, 36) * 1000;
      if (!(expiresMs > now())) return undefined;
      const expected = mac(id, expiry);
      const actual = Buffer.from(given, 'base64url');
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
      return { id, expiresMs };
    },
  };
}
