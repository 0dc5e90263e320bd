// Keeps `next` a path on this site, so the captcha endpoint can never become an open redirect.

export const MAX_NEXT_LENGTH = 2048;

// Visible ASCII only (0x21–0x7e) without backslash: no whitespace or control characters, which
// URL parsers silently strip (`/\t/evil.com` becomes `//evil.com`), no `\`, which browsers read
// as `/`, and nothing Node refuses in a Location header.
const LOCAL_PATH = /^\/(?![/\\])[\x21-\x5b\x5d-\x7e]*$/;
const PROBE_ORIGIN = 'http://gateway.invalid';

/** `value` when it is a local path (`/…`, not `//…` or `/\…`, no scheme); `/` otherwise. */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_NEXT_LENGTH) return '/';
  if (!LOCAL_PATH.test(value)) return '/';
  // Belt and braces: whatever a URL parser makes of it must stay on our origin.
  try {
    if (new URL(value, PROBE_ORIGIN).origin !== PROBE_ORIGIN) return '/';
  } catch {
    return '/';
  }
  return value;
}
