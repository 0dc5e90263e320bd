// The one path form that classification and rules match on, so that no spelling of a path (`//`,
// `%2e%2e`, `\`, `;jsessionid=1`) can slip a request past a rule or into the captcha paths.

// Anything that can make the raw path differ from its normal form.
const NEEDS_WORK = /[%\\;]|\/[/.]/;
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Normalises a raw request target (`req.url`); case is kept, callers lower-case for rules. */
export function normalisePath(target: string): string {
  let path = cutQuery(target);
  if (path.charCodeAt(0) !== 0x2f /* / */) path = originPath(path);
  if (!NEEDS_WORK.test(path)) return path;

  const decoded = path.includes('%') ? percentDecode(path) : path;
  const segments = decoded.replaceAll('\\', '/').split('/');
  const kept: string[] = [];
  for (const written of segments) {
    // Matrix parameters (`/users;x/login;jsessionid=1/`) are dropped, decoded `%3b` ones too: Java
    // servers (Tomcat, Jetty, Spring) strip them and serve `/users/login/`, so rules must see that.
    const semicolon = written.indexOf(';');
    const segment = semicolon === -1 ? written : written.slice(0, semicolon);
    if (segment === '..') kept.pop();
    else if (segment !== '' && segment !== '.') kept.push(segment);
  }
  if (kept.length === 0) return '/';
  // `/a/b/..` names the directory `/a/`, as in RFC 3986 dot-segment removal.
  const last = segments[segments.length - 1]!;
  const end = last.includes(';') ? last.slice(0, last.indexOf(';')) : last;
  const trailing = end === '' || end === '.' || end === '..';
  return `/${kept.join('/')}${trailing ? '/' : ''}`;
}

function cutQuery(target: string): string {
  const query = target.indexOf('?');
  const fragment = target.indexOf('#');
  const cut = query < 0 ? fragment : fragment < 0 ? query : Math.min(query, fragment);
  return cut < 0 ? target : target.slice(0, cut);
}

// Absolute-form (`http://host/path`, sent to proxies) keeps its path; `*` and anything else
// without a leading slash is still given one so the result is always a path.
function originPath(target: string): string {
  if (target === '*' || target === '') return '/';
  if (!ABSOLUTE_FORM.test(target)) return `/${target}`;
  const slash = target.indexOf('/', target.indexOf('//') + 2);
  return slash < 0 ? '/' : target.slice(slash);
}

// Decodes valid `%XX` escapes once, as UTF-8 bytes; malformed escapes stay literal and invalid
// UTF-8 becomes U+FFFD rather than throwing as decodeURIComponent would.
function percentDecode(text: string): string {
  const input = Buffer.from(text, 'utf8');
  const output = Buffer.allocUnsafe(input.length);
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (byte === 0x25 /* % */ && i + 2 < input.length) {
      const high = hexValue(input[i + 1]!);
      const low = hexValue(input[i + 2]!);
      if (high >= 0 && low >= 0) {
        output[length++] = (high << 4) | low;
        i += 2;
        continue;
      }
    }
    output[length++] = byte;
  }
  return output.toString('utf8', 0, length);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
