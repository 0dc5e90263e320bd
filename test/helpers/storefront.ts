// A headless storefront for tests: the real code of @akinon/next 1.24.0 (test/fixtures), served by
// a real HTTP server in the Next.js server's place, plus `Shopper`, a browser behind the ingress.
//
//   browser (Shopper) ── ingress (x-real-ip) ── storefront ──┬── relay  api/client.ts ───┐
//                                                             ├── login  api/auth.ts ─────┼── gateway
//                                                             └── page data app-fetch.ts ─┘
//
// The package's files run unchanged, bundled with esbuild; only what a Next.js project supplies is
// stood in for (next/server, next/headers, next-auth, settings, routes, the logger). The server
// plays Next.js's part with one deliberate strictness: the relay's `set-cookie` — which the relay
// reads with `headers.get('set-cookie')`, joining several Set-Cookie fields with ", " — reaches the
// browser as the ONE header field it is (Next 14.1 happens to split it again; a relay or CDN that
// does not is what the gateway must survive).
//
//   const storefront = await startStorefront({ commerceUrl: gateway.url });
//   const shopper = new Shopper(storefront.url, '198.51.100.7');
//   await shopper.relay('GET', '/users/profile/');        // through api/client.ts
//   await shopper.login();                                 // api/auth.ts authorize
//   await shopper.solveCaptcha('pass-1');                  // hooks/use-captcha.tsx, via the relay
//   await storefront.pageData('/widgets/home/');           // utils/app-fetch.ts
import { build, type Plugin } from 'esbuild';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_DIR = fileURLToPath(new URL('../fixtures/akinon-next-1.24.0/', import.meta.url));

/** The storefront project's settings the package reads (`settings`): one locale, one currency. */
const LOCALE = { value: 'en', apiValue: 'en-us' };
const CURRENCY = 'usd';

export interface StorefrontOptions {
  /** Where the storefront sends commerce calls: the gateway's URL. */
  readonly commerceUrl: string;
}

export interface Storefront {
  /** http://127.0.0.1:<port>: what the ingress forwards browsers to. */
  readonly url: string;
  /** One server-side page-data fetch (utils/app-fetch.ts): what the page would render with. */
  pageData(commercePath: string): Promise<unknown>;
  close(): Promise<void>;
}

/** What the bundled package exports to the server. */
interface PackageCode {
  readonly relay: Record<string, (request: Request, route: RouteParams) => Promise<Response>>;
  readonly Auth: (req: AuthRequest, res: AuthResponse) => AuthOptions;
  readonly appFetch: (url: string) => Promise<unknown>;
}
interface RouteParams {
  readonly params: { readonly slug: string[] };
}
/** The parts of Next's NextApiRequest/NextApiResponse that api/auth.ts touches. */
interface AuthRequest {
  readonly headers: http.IncomingHttpHeaders;
  readonly cookies: Record<string, string>;
}
interface AuthResponse {
  setHeader(name: string, value: string[]): void;
}
interface AuthOptions {
  readonly providers: { readonly authorize: (credentials: Record<string, string>) => unknown }[];
}

export async function startStorefront(options: StorefrontOptions): Promise<Storefront> {
  const code = await bundlePackage(options.commerceUrl);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://storefront.test');
    if (url.pathname.startsWith('/api/client/')) {
      const answer = await relay(code, req, url, body);
      // The one place this server differs from Next 14.1: the joined value stays one field.
      const setCookie = answer.headers.get('set-cookie');
      const head: Record<string, string> = {};
      for (const [name, value] of answer.headers) if (name !== 'set-cookie') head[name] = value;
      if (setCookie !== null) head['set-cookie'] = setCookie;
      const payload = Buffer.from(await answer.arrayBuffer());
      head['content-length'] = String(payload.length);
      res.writeHead(answer.status, head);
      res.end(payload);
      return;
    }
    if (url.pathname === '/api/auth/callback/default' && req.method === 'POST') {
      return login(code, req, res, body);
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not a storefront route"}');
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(error) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    pageData: (commercePath) => code.appFetch(commercePath),
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** Next's app router: the incoming request as a web Request, to the method's handler. */
async function relay(
  code: PackageCode,
  req: IncomingMessage,
  url: URL,
  body: Buffer,
): Promise<Response> {
  const method = req.method ?? 'GET';
  const handler = code.relay[method];
  if (!handler) return Response.json({ error: 'method not allowed' }, { status: 405 });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const request = new Request(url, {
    method,
    headers,
    ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
  });
  // `[...slug]`: the path segments after /api/client/, decoded.
  const slug = url.pathname
    .slice('/api/client/'.length)
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => decodeURIComponent(segment));
  return handler(request, { params: { slug } });
}

/**
 * next-auth's credentials callback, reduced to what the storefront does with it: run the
 * `default` provider's authorize (api/auth.ts) and answer the browser with its outcome. The
 * errors authorize throws are a JSON list of `{type}` (`captcha` makes the storefront show its
 * captcha); a user object means signed in.
 */
async function login(
  code: PackageCode,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const cookies: Record<string, string> = {};
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) cookies[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  const setCookies: string[] = [];
  const options = code.Auth(
    { headers: req.headers, cookies },
    { setHeader: (_name, value) => setCookies.push(...value) },
  );
  const credentials = JSON.parse(body.toString('utf8')) as Record<string, string>;
  let outcome: LoginAnswer;
  try {
    await options.providers[1]!.authorize(credentials);
    outcome = { signedIn: true, errors: [] };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    let errors: string[];
    try {
      errors = (JSON.parse(message) as { type: string }[]).map((entry) => entry.type);
    } catch {
      errors = [`exception: ${message}`];
    }
    outcome = { signedIn: false, errors };
  }
  const payload = JSON.stringify(outcome);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...(setCookies.length > 0 ? { 'set-cookie': setCookies } : {}),
  });
  res.end(payload);
}

/** What the storefront's login answers the browser: signed in, or the errors authorize threw. */
export interface LoginAnswer {
  readonly signedIn: boolean;
  /** `captcha`, `otp`, `field_errors`, `non_field_errors`, or `exception: …`. */
  readonly errors: string[];
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Bundles the package's files with stand-ins for what a Next.js project provides. */
async function bundlePackage(commerceUrl: string): Promise<PackageCode> {
  const settings = {
    commerceUrl,
    localization: {
      locales: [LOCALE],
      defaultLocaleValue: LOCALE.value,
      defaultCurrencyCode: CURRENCY,
      localeUrlStrategy: 'hide-default-locale',
    },
  };
  const standIns: Record<string, string> = {
    settings: `export default ${JSON.stringify(settings)};`,
    routes: `export const ROUTES = { AUTH: '/auth' };`,
    'next/server': `export const NextResponse = { json: (body, init) => Response.json(body, init) };`,
    // Page data is fetched while rendering a page; the package reads only x-forwarded-for (to log).
    'next/headers': `export const headers = () => new Headers();`,
    // Auth(req, res) hands back its options, so the server can run the provider's authorize.
    'next-auth': `export default (req, res, options) => options;`,
    'next-auth/providers/credentials': `export default (provider) => provider;`,
    log: `const quiet = () => {};
      export default { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet, fatal: quiet };`,
    // api/auth.ts takes only urlLocaleMatcherRegex from the package's utils (used on redirects).
    utils: `export const urlLocaleMatcherRegex = /^\\/(en)(?=\\/|$)/;`,
  };
  const standIn = (name: string) => ({ path: name, namespace: 'stand-in' });
  const plugin: Plugin = {
    name: 'next-project-stand-ins',
    setup(esbuild) {
      esbuild.onResolve({ filter: /^(settings|routes|next\/server|next\/headers)$/ }, (args) =>
        standIn(args.path),
      );
      esbuild.onResolve({ filter: /^next-auth(\/providers\/credentials)?$/ }, (args) =>
        standIn(args.path),
      );
      esbuild.onResolve({ filter: /utils\/log$/ }, () => standIn('log'));
      esbuild.onResolve({ filter: /^\.\.\/utils$/ }, () => standIn('utils'));
      esbuild.onLoad({ filter: /.*/, namespace: 'stand-in' }, (args) => ({
        contents: standIns[args.path] ?? '',
        loader: 'js',
      }));
    },
  };
  const result = await build({
    stdin: {
      contents: [
        `export * as relay from './api/client.ts';`,
        `export { default as Auth } from './api/auth.ts';`,
        `export { default as appFetch } from './utils/app-fetch.ts';`,
      ].join('\n'),
      resolveDir: path.resolve(PACKAGE_DIR),
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    // Not this project's tsconfig (verbatimModuleSyntax would keep the package's type imports).
    tsconfigRaw: {},
    plugins: [plugin],
  });
  const text = result.outputFiles[0]!.text;
  return (await import(
    `data:text/javascript;base64,${Buffer.from(text).toString('base64')}`
  )) as PackageCode;
}

// ─── The browser ─────────────────────────────────────────────────────────────────────────────

/** A cookie as a browser keeps it (RFC 6265 §5.3, the parts the storefront's cookies use). */
interface StoredCookie {
  readonly name: string;
  readonly value: string;
  /** Hidden from page script (`document.cookie`). */
  readonly httpOnly: boolean;
  readonly path: string;
  /** Epoch ms; Infinity for a session cookie. */
  readonly expiresAtMs: number;
}

/** An answer of the relay, as the browser's fetch sees it. */
export interface RelayAnswer {
  readonly status: number;
  /** The Set-Cookie fields of the answer, as received (the relay sends at most one). */
  readonly setCookie: string[];
  readonly body: unknown;
}

export interface ShopperOptions {
  /** Epoch ms, for cookie expiry. */
  readonly now?: () => number;
}

/** What the package's RTK client and the browser send on every relayed call. */
const RELAY_OPTIONS_FORM = { useFormData: true };

/**
 * A browser behind the ingress: every request carries the ingress's `x-real-ip: <address>` (and
 * its X-Forwarded-*, which the relay drops), the cookies of its jar, and, on relayed calls, what
 * the package's RTK base query adds (Accept-Language, x-currency, x-csrftoken from the cookie).
 */
export class Shopper {
  #storefrontUrl: string;
  readonly #now: () => number;
  readonly #jar = new Map<string, StoredCookie>();
  /** Every Set-Cookie field the browser received, in order. */
  readonly received: string[] = [];

  constructor(
    storefrontUrl: string,
    /** The shopper's public address, as the ingress sees it (a documentation range in tests). */
    readonly address: string,
    options: ShopperOptions = {},
  ) {
    this.#storefrontUrl = storefrontUrl;
    this.#now = options.now ?? Date.now;
    // The storefront's middleware sets these on the first page view.
    this.setCookie('pz-locale', LOCALE.value);
    this.setCookie('pz-currency', CURRENCY);
  }

  /** The load balancer in front of the storefront servers sends this browser to another one. */
  useStorefront(storefrontUrl: string): void {
    this.#storefrontUrl = storefrontUrl;
  }

  /**
   * A call through the relay, as `buildClientRequestUrl(path, options)` and RTK's fetchBaseQuery
   * make it: a body is sent as JSON; the relay turns it into form data when `options.useFormData`.
   */
  async relay(
    method: string,
    commercePath: string,
    body?: Record<string, string>,
    options?: Record<string, unknown>,
  ): Promise<RelayAnswer> {
    let target = `/api/client${commercePath}`;
    if (options) {
      target += `${target.includes('?') ? '&' : '?'}options=${encodeURIComponent(JSON.stringify(options))}`;
    }
    const headers: Record<string, string> = {
      accept: '*/*',
      'accept-language': LOCALE.apiValue,
      'x-currency': this.cookie('pz-currency') ?? 'undefined',
      origin: this.#storefrontUrl,
      referer: `${this.#storefrontUrl}/`,
    };
    const csrf = this.cookie('csrftoken');
    if (csrf !== undefined) headers['x-csrftoken'] = csrf;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const answer = await this.#send(method, target, headers, payload);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      parsed = answer.text;
    }
    return { status: answer.status, setCookie: answer.setCookie, body: parsed };
  }

  /**
   * Signs in through the storefront (next-auth's credentials callback, api/auth.ts authorize),
   * which calls commerce itself with this browser's cookie header and no client address.
   */
  async login(email = 'shopper@example.com', password = 'secret'): Promise<LoginAnswer> {
    const payload = JSON.stringify({ email, password, formType: 'login', locale: LOCALE.value });
    const answer = await this.#send(
      'POST',
      '/api/auth/callback/default',
      { 'content-type': 'application/json' },
      payload,
    );
    return JSON.parse(answer.text) as LoginAnswer;
  }

  /**
   * data/client/user.ts getCaptcha and hooks/use-captcha.tsx: fetch the captcha form through the
   * relay, read the site key and token with the package's own regular expressions, and store the
   * token in the `csrftoken` cookie as the hook does.
   */
  async getCaptcha(): Promise<{ readonly siteKey: string; readonly csrfToken: string }> {
    const answer = await this.relay('GET', '/users/pz-captcha/');
    const html = (answer.body as { html?: string } | null)?.html;
    if (typeof html !== 'string') {
      throw new Error(`captcha form expected, got ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    const siteKeyMatch = html.match(/sitekey=["|']\w+/gi);
    const csrfTokenMatch = html.match(/name=['|"]csrfmiddlewaretoken['|"] value=['|"]\w+/gi);
    const siteKey = siteKeyMatch?.[0].replace(/sitekey=["|']/, '') || '';
    const csrfToken =
      csrfTokenMatch?.[0].replace(/name=['|"]csrfmiddlewaretoken['|"] value=['|"]/gi, '') || '';
    if (csrfToken) this.setCookie('csrftoken', csrfToken, 7 * 24 * 3600);
    return { siteKey, csrfToken };
  }

  /** data/client/user.ts validateCaptcha: success is `location === '/'` in the JSON answer. */
  async validateCaptcha(
    captchaResponse: string,
  ): Promise<{ readonly success: boolean; readonly answer: RelayAnswer }> {
    const answer = await this.relay(
      'POST',
      '/users/pz-captcha/',
      { 'g-recaptcha-response': captchaResponse },
      RELAY_OPTIONS_FORM,
    );
    const location = (answer.body as { location?: unknown } | null)?.location;
    return { success: location === '/', answer };
  }

  /** The whole captcha the storefront shows: the form, then the widget's response validated. */
  async solveCaptcha(
    captchaResponse = 'pass',
  ): Promise<{ readonly success: boolean; readonly answer: RelayAnswer }> {
    await this.getCaptcha();
    return this.validateCaptcha(captchaResponse);
  }

  /** A cookie's value as `document.cookie` on a storefront page shows it, or undefined. */
  cookie(name: string): string | undefined {
    this.#expire();
    return this.#jar.get(jarKey(name, '/'))?.httpOnly === false
      ? this.#jar.get(jarKey(name, '/'))?.value
      : undefined;
  }

  /** Every cookie the browser holds (HttpOnly ones too) as `name → value` for path `path`. */
  cookiesFor(requestPath: string): Map<string, string> {
    this.#expire();
    const found = new Map<string, string>();
    for (const cookie of this.#jar.values()) {
      if (pathMatches(requestPath, cookie.path)) found.set(cookie.name, cookie.value);
    }
    return found;
  }

  /** utils/index.ts setCookie: `name=value; expires=…; path=/` from page script. */
  setCookie(name: string, value: string, maxAgeSeconds?: number): void {
    this.#jar.set(jarKey(name, '/'), {
      name,
      value,
      httpOnly: false,
      path: '/',
      expiresAtMs: maxAgeSeconds === undefined ? Infinity : this.#now() + maxAgeSeconds * 1000,
    });
  }

  async #send(
    method: string,
    target: string,
    headers: Record<string, string>,
    payload: string | undefined,
  ): Promise<{ status: number; setCookie: string[]; text: string }> {
    const url = new URL(target, this.#storefrontUrl);
    const cookieHeader = this.#cookieHeader(url.pathname);
    const ingress: Record<string, string> = {
      'x-real-ip': this.address,
      'x-forwarded-for': this.address,
      'x-forwarded-host': 'shop.example',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      'user-agent': 'Mozilla/5.0 (test shopper)',
    };
    const request = http.request(url, {
      method,
      headers: {
        ...ingress,
        ...headers,
        ...(cookieHeader === '' ? {} : { cookie: cookieHeader }),
        ...(payload === undefined ? {} : { 'content-length': Buffer.byteLength(payload) }),
      },
    });
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
      request.end(payload);
    });
    const setCookie = response.headers['set-cookie'] ?? [];
    for (const field of setCookie) this.#store(field, url.pathname);
    this.received.push(...setCookie);
    const text = (await readBody(response)).toString('utf8');
    return { status: response.statusCode ?? 0, setCookie, text };
  }

  /**
   * RFC 6265 §5.2: one Set-Cookie field is one cookie, its name and value up to the first ';'.
   * A field that holds several joined cookies is therefore ONE cookie with a strange value or
   * attributes, as in a browser: nothing here splits it.
   */
  #store(field: string, requestPath: string): void {
    const [pair = '', ...attributes] = field.split(';');
    const at = pair.indexOf('=');
    if (at < 1) return;
    const name = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    let cookiePath = defaultPath(requestPath);
    let maxAgeSeconds: number | undefined;
    let expiresAtMs: number | undefined;
    let httpOnly = false;
    for (const attribute of attributes) {
      const eq = attribute.indexOf('=');
      const key = (eq === -1 ? attribute : attribute.slice(0, eq)).trim().toLowerCase();
      const argument = eq === -1 ? '' : attribute.slice(eq + 1).trim();
      if (key === 'path')
        cookiePath = argument.startsWith('/') ? argument : defaultPath(requestPath);
      if (key === 'httponly') httpOnly = true;
      if (key === 'max-age' && /^-?\d+$/.test(argument)) maxAgeSeconds = Number(argument);
      if (key === 'expires') {
        const date = Date.parse(argument);
        if (!Number.isNaN(date)) expiresAtMs = date;
      }
    }
    const expires =
      maxAgeSeconds !== undefined
        ? this.#now() + maxAgeSeconds * 1000
        : (expiresAtMs ?? Number.POSITIVE_INFINITY);
    const key = jarKey(name, cookiePath);
    if (expires <= this.#now()) this.#jar.delete(key);
    else this.#jar.set(key, { name, value, httpOnly, path: cookiePath, expiresAtMs: expires });
  }

  #cookieHeader(requestPath: string): string {
    this.#expire();
    return [...this.#jar.values()]
      .filter((cookie) => pathMatches(requestPath, cookie.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }

  #expire(): void {
    const now = this.#now();
    for (const [key, cookie] of this.#jar) if (cookie.expiresAtMs <= now) this.#jar.delete(key);
  }
}

/** A browser keeps one cookie per name and path (and domain: one here). */
function jarKey(name: string, cookiePath: string): string {
  return `${name}\u0000${cookiePath}`;
}

/** RFC 6265 §5.1.4 default-path: the request path up to its last '/'. */
function defaultPath(requestPath: string): string {
  const last = requestPath.lastIndexOf('/');
  return last <= 0 ? '/' : requestPath.slice(0, last);
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}
