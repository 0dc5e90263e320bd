// The HMAC key the gateway signs with (CSRF tokens, and any later signed value): the configured
// secret's bytes, or one random key made once for the life of the process when none is set, so a
// reload never invalidates what was signed before it.
import { randomBytes } from 'node:crypto';

/** The key bytes for `secret`; '' gives this process's one random 32-byte key. */
export type SigningKey = (secret: string) => Buffer;

/** `random` is injectable for tests; the random key is made on first use and then kept. */
export function createSigningKey(random: (bytes: number) => Buffer = randomBytes): SigningKey {
  let processKey: Buffer | undefined;
  return (secret) => {
    if (secret !== '') return Buffer.from(secret, 'utf8');
    return (processKey ??= random(32));
  };
}
