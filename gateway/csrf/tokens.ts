// Stateless CSRF tokens: an HMAC over expiry, nonce and client key, so any replica sharing
// `csrf.secret` can check a token without storing anything.
import { createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';

export interface CsrfTokens {
  /** A fresh token bound to `clientKey`, valid for the configured ttl. Lower-case hex only. */
  issue(clientKey: string): string;
  /** True only for an unexpired token this key issued to `clientKey`. Never throws. */
  verify(token: unknown, clientKey: string): boolean;
}

export interface CsrfTokenOptions {
  /** HMAC key: `csrf.secret`'s bytes (shared by all replicas) or the process's own (signing-key.ts). */
  key: Buffer;
  ttlMs: number;
  /** Epoch milliseconds. */
  now: () => number;
}

// Layout, all lower-case hex (the storefront extracts the token with `\w+`):
// 12 chars expiry (epoch ms, good until the year 10889) + 32 chars nonce + 64 chars HMAC-SHA256.
const EXPIRY_CHARS = 12;
const NONCE_BYTES = 16;
const NONCE_CHARS = NONCE_BYTES * 2;
const MAC_CHARS = 64;
const TOKEN_CHARS = EXPIRY_CHARS + NONCE_CHARS + MAC_CHARS;
const TOKEN_SHAPE = new RegExp(`^[0-9a-f]{${TOKEN_CHARS}}$`);
// Domain separation: the key may be reused elsewhere one day; these MACs mean nothing there.
const PURPOSE = 'captcha-gateway/csrf/v1';

export function createCsrfTokens({ key, ttlMs, now }: CsrfTokenOptions): CsrfTokens {
  const nonce = createNoncePool();

  // Expiry and nonce have fixed widths, so the client key after them needs no delimiter. One
  // update of the joined text: the same bytes as one update per part (the same MAC), and a
  // microsecond less per token than three calls into the hash.
  const hmac = (expiryAndNonce: string, clientKey: string) =>
    createHmac('sha256', key).update(PURPOSE + expiryAndNonce + clientKey);

  return {
    issue(clientKey) {
      const expiry = Math.floor(now() + ttlMs)
        .toString(16)
        .padStart(EXPIRY_CHARS, '0');
      const head = expiry + nonce();
      return head + hmac(head, clientKey).digest('hex');
    },

    verify(token, clientKey) {
      // Shape first: anything that is not exactly our alphabet and length never reaches crypto.
      if (typeof token !== 'string' || token.length !== TOKEN_CHARS) return false;
      if (!TOKEN_SHAPE.test(token)) return false;
      const head = token.slice(0, EXPIRY_CHARS + NONCE_CHARS);
      const given = Buffer.from(token.slice(EXPIRY_CHARS + NONCE_CHARS), 'hex');
      // Constant-time compare of two 32-byte MACs, so a forger learns nothing from timing.
      if (!timingSafeEqual(given, hmac(head, clientKey).digest())) return false;
      const expiry = Number.parseInt(token.slice(0, EXPIRY_CHARS), 16);
      return now() < expiry;
    },
  };
}

/**
 * Random hex nonces cut from a buffer refilled 256 nonces at a time, and turned into hex once per
 * refill: one randomBytes call per GET cost more than the HMAC, one hex conversion per nonce
 * almost a fifth of it. Nonces only make tokens unique; the MAC is what makes them unforgeable.
 */
function createNoncePool(): () => string {
  const pool = Buffer.alloc(NONCE_BYTES * 256);
  let hex = '';
  let offset = 0;
  return () => {
    if (offset === hex.length) {
      randomFillSync(pool);
      hex = pool.toString('hex');
      offset = 0;
    }
    const nonce = hex.slice(offset, offset + NONCE_CHARS);
    offset += NONCE_CHARS;
    return nonce;
  };
}

/** Length of every token `issue` makes (for tests and documentation). */
export const CSRF_TOKEN_LENGTH = TOKEN_CHARS;
