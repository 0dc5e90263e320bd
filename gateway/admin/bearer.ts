// Checks an `Authorization: Bearer <token>` header in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Hashing both sides first gives equal lengths, so neither the token nor its length leaks. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (token === '' || header === undefined) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return false;
  return timingSafeEqual(digest(match[1]!), digest(token));
}
