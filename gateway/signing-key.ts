// The key that signs what the gateway hands out (CSRF tokens, clearance cookies): the configured
// secret, or one random key made once per process, so a reload does not void what is out there.
import { randomBytes } from 'node:crypto';

let processKey: Buffer | undefined;

/** `secret` as bytes; '' gives this process's random key (the same one on every call). */
export function signingKey(secret: string): Buffer {
  if (secret !== '') return Buffer.from(secret, 'utf8');
  processKey ??= randomBytes(32);
  return processKey;
}
