// Reads the clearance cookie from a Cookie header and writes the Set-Cookie that grants one. The
// Set-Cookie is shaped for relays that join several into one line: Max-Age (an Expires date holds
// a comma), Path=/ (it must travel with every request, the login included).

/**
 * Every value of cookie `name` in a Cookie header, first to last (a host-only and a domain cookie
 * of one name may both be sent). Cheap when the name is absent: one indexOf.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined || !header.includes(name)) return [];
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    values.push(value);
  }
  return values;
}

export interface GrantCookieOptions {
  readonly name: string;
  readonly maxAgeS: number;
  /** '' for a host-only cookie. */
  readonly domain: string;
  /** The request came over https (TLS, or a trusted proxy's X-Forwarded-Proto). */
  readonly secure: boolean;
}

export function grantCookie(value: string, options: GrantCookieOptions): string {
  const domain = options.domain === '' ? '' : `; Domain=${options.domain}`;
  const secure = options.secure ? '; Secure' : '';
  return `${options.name}=${value}; Path=/; Max-Age=${options.maxAgeS}${domain}; HttpOnly; SameSite=Lax${secure}`;
}
