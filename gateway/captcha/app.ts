// The captcha endpoints as a Koa app: GET shows the form, POST verifies it, lifts the solver's own
// throttle and grants a clearance. The server only hands it requests for `captcha.paths`.
import Koa, { type Context } from 'koa';
import { grantCookie } from '../clearance/cookie.js';
import type { ClearanceTokens } from '../clearance/tokens.js';
import type { Config } from '../config/schema.js';
import type { CsrfTokens } from '../csrf/tokens.js';
import { exchangeOf, findExchange, type Exchange } from '../http/exchange.js';
import type { HttpsTest } from '../http/scheme.js';
import type { Store, WindowLimit } from '../limiter/store.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { bodyKind, createBodyReader, declaredLength } from './body.js';
import { createLanguagePicker } from './language.js';
import { prefersHtml } from './negotiate.js';
import { resolveProvider } from './providers.js';
import { createRenderer } from './render.js';
import { safeNext } from './safe-next.js';
import { createSiteverify, judge } from './siteverify.js';
import { parseSubmission } from './submission.js';

export interface CaptchaAppDeps {
  readonly config: Config;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly csrf: CsrfTokens;
  /** Signs the clearance a passed captcha grants; undefined when clearance is off. */
  readonly clearances?: ClearanceTokens | undefined;
  /** Whether the request came over https (the clearance cookie is then Secure). */
  readonly isHttps: HttpsTest;
  /** Epoch milliseconds. */
  readonly now: () => number;
  readonly log: Logger;
}

// Public texts only: a body never carries a stack, an address or a code from our own system.
const DETAIL = {
  csrf: 'CSRF verification failed.',
  method: 'Method not allowed.',
  unsupported:
    'Unsupported content type: use application/x-www-form-urlencoded, multipart/form-data or application/json.',
  tooLarge: 'Request body too large.',
  attempts: 'Too many captcha attempts, please try again later.',
  malformed: 'Malformed captcha submission.',
  unavailable: 'Captcha verification is temporarily unavailable, please try again shortly.',
  internal: 'Internal error.',
} as const;

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
/** Every captcha answer: never cached, chosen by Accept and Accept-Language, never sniffed. */
const COMMON_HEADERS: readonly string[] = [
  'cache-control',
  'no-store',
  'vary',
  'Accept, Accept-Language',
  'x-content-type-options',
  'nosniff',
];

const csrfCookie = (token: string): string => `csrftoken=${token}; Path=/; SameSite=Lax`;

export function createCaptchaApp(deps: CaptchaAppDeps): Koa {
  const { config, store, metrics, csrf, clearances, isHttps, now, log } = deps;
  const captcha = config.captcha;

  // Everything that does not change per request is settled here, once.
  const provider = resolveProvider(captcha);
  const renderer = createRenderer({
    provider,
    siteKey: captcha.site_key,
    languages: captcha.languages,
    page: captcha.page,
  });
  const pickLanguage = createLanguagePicker(
    Object.keys(captcha.languages),
    captcha.default_language,
  );
  const siteverify = createSiteverify({
    url: provider.verifyUrl,
    secret: captcha.secret,
    timeoutMs: captcha.verify_timeout,
  });
  const rules = { hostnames: captcha.hostnames, minScore: captcha.min_score };
  const attemptLimit: WindowLimit = {
    id: 'captcha',
    limit: captcha.attempts.limit,
    windowMs: captcha.attempts.window,
  };
  const attemptRetryAfterS = String(Math.max(1, Math.ceil(captcha.attempts.window / 1000)));
  const readBody = createBodyReader(captcha.max_body);
  const csp = renderer.contentSecurityPolicy;

  // pickLanguage only returns configured languages; the fallback satisfies the type checker.
  const failedText = (language: string): string =>
    captcha.languages[language]?.failed ?? 'Verification failed.';

  const json = (ctx: Context, status: number, body: unknown): void => {
    ctx.status = status;
    // Content-Type before body: Koa then keeps it instead of guessing from the string.
    ctx.set('Content-Type', JSON_TYPE);
    ctx.body = JSON.stringify(body);
  };

  /** The headers every form answer carries, with a fresh token in the cookie. */
  const issueForm = (ctx: Context, exchange: Exchange): string => {
    const token = csrf.issue(exchange.key);
    ctx.set('Set-Cookie', csrfCookie(token));
    return token;
  };

  const sendPage = (
    ctx: Context,
    status: number,
    token: string,
    next: string | undefined,
    failed: boolean,
  ): void => {
    const language = pickLanguage(ctx.get('accept-language') || undefined);
    ctx.status = status;
    ctx.set('Content-Security-Policy', csp);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Content-Type', HTML_TYPE);
    const requestId = exchangeOf(ctx.req).requestId;
    ctx.body = renderer.page(language, { token, next, failed, requestId });
  };

  /**
   * A GET: the form, as JSON or as the page. Its whole header block goes to writeHead at once
   * (ctx.respond = false, Koa's documented hand-over), which spares Node's header map and Koa's
   * setters about a third of this answer's CPU time in the profile.
   */
  const showForm = (ctx: Context, exchange: Exchange): void => {
    exchange.outcome = 'captcha_page';
    const { headers } = ctx.req;
    const token = csrf.issue(exchange.key);
    // Only a `next` that passes safeNext unchanged is carried; anything else is dropped. Koa
    // parses the query only when there is one.
    const rawNext = ctx.req.url?.includes('?') ? ctx.query.next : undefined;
    const next = typeof rawNext === 'string' && safeNext(rawNext) === rawNext ? rawNext : undefined;
    const language = pickLanguage(headers['accept-language'] || undefined);
    const html = prefersHtml(headers.accept || undefined);
    const body = html
      ? renderer.page(language, { token, next, failed: false, requestId: exchange.requestId })
      : renderer.json(language, token, next);
    const head = [
      ...COMMON_HEADERS,
      'x-request-id',
      exchange.requestId,
      'set-cookie',
      csrfCookie(token),
      'content-type',
      html ? HTML_TYPE : JSON_TYPE,
      'content-length',
      String(Buffer.byteLength(body)),
    ];
    if (html) head.push('content-security-policy', csp, 'x-frame-options', 'DENY');
    ctx.respond = false;
    ctx.res.writeHead(200, head);
    ctx.res.end(body);
  };

  /** A request we answer without reading its body: close the connection rather than drain it. */
  const refuseUnread = (ctx: Context, status: number, detail: string): void => {
    ctx.set('Connection', 'close');
    json(ctx, status, { detail });
  };

  const verify = async (ctx: Context, exchange: Exchange): Promise<void> => {
    exchange.outcome = 'captcha_failed';
    const { client, key } = exchange;
    const xhr = ctx.get('x-requested-with').toLowerCase() === 'xmlhttprequest';
    const browser = !xhr && prefersHtml(ctx.get('accept') || undefined);
    const language = pickLanguage(ctx.get('accept-language') || undefined);

    const kind = bodyKind(ctx.get('content-type') || undefined);
    if (kind === undefined) return refuseUnread(ctx, 415, DETAIL.unsupported);
    const length = declaredLength(ctx.req);
    if (length !== undefined && length > captcha.max_body) {
      return refuseUnread(ctx, 413, DETAIL.tooLarge);
    }

    // Counted before the body is read or anything is verified: every POST is an attempt.
    if (!(await storeCall(() => store.attempt(key, attemptLimit, now())))) {
      ctx.set('Retry-After', attemptRetryAfterS);
      return refuseUnread(ctx, 429, DETAIL.attempts);
    }

    const body = await readBody(ctx, kind);
    switch (body.kind) {
      case 'too_large':
        return refuseUnread(ctx, 413, DETAIL.tooLarge);
      case 'unsupported':
        return refuseUnread(ctx, 415, DETAIL.unsupported);
      case 'malformed':
        return json(ctx, 400, { detail: DETAIL.malformed, error_codes: ['bad-request'] });
      case 'fields':
        break;
    }

    const submission = parseSubmission(body.fields, {
      csrfHeader: ctx.get('x-csrftoken'),
      queryNext: ctx.query.next,
    });
    if (submission.kind === 'malformed') {
      return json(ctx, 400, { detail: DETAIL.malformed, error_codes: ['bad-request'] });
    }
    // The token is checked before the provider is asked: a forged request costs it nothing.
    // A shopper who got its clearance after the form was issued (to its address) may still post it.
    const issuedTo = (owner: string): boolean => csrf.verify(submission.csrfToken, owner);
    if (!issuedTo(key) && !(exchange.holder === 'clearance' && issuedTo(client.key))) {
      return json(ctx, 403, { detail: DETAIL.csrf });
    }

    const failed = (errorCodes: readonly string[]): void => {
      if (browser) {
        sendPage(ctx, 400, issueForm(ctx, exchange), submission.next, true);
        return;
      }
      json(ctx, 400, { detail: failedText(language), error_codes: errorCodes });
    };

    if (submission.captchaResponse === undefined) return failed(['missing-input-response']);

    const result = judge(await siteverify(submission.captchaResponse, client.text), rules);
    metrics.siteverify.inc({ result: result.kind });
    switch (result.kind) {
      case 'error':
        // An outage, not the visitor's fault: nothing is lifted, the visitor may retry.
        log.warn({ event: 'siteverify_error', reason: result.reason, client: key });
        return json(ctx, 503, { detail: DETAIL.unavailable });
      case 'rejected':
        log.debug({ event: 'captcha_rejected', client: key, codes: result.errorCodes });
        return failed(result.errorCodes);
      case 'success':
        break;
    }

    // Only the solver's own throttle is lifted: its address or its old clearance. A shared
    // address's budgets stay as they are, so a bot behind it gains nothing from a shopper's solve.
    if (exchange.holder !== 'shared') await storeCall(() => store.release(key));
    exchange.outcome = 'captcha_passed';
    grantClearance(ctx, exchange);
    // The storefront's relay follows redirects, so an XHR learns where to go from the body.
    if (xhr) return json(ctx, 200, { location: submission.next });
    json(ctx, 302, {});
    ctx.set('Location', submission.next);
  };

  /** One solve buys one clearance: a new id with a budget of its own, as the only Set-Cookie. */
  const grantClearance = (ctx: Context, exchange: Exchange): void => {
    if (clearances === undefined) return;
    const { clearance, value } = clearances.grant();
    metrics.clearancesGranted.inc();
    log.info({ event: 'clearance_granted', client: exchange.key, clearance: clearance.id });
    ctx.set(
      'Set-Cookie',
      grantCookie(value, {
        name: config.clearance.cookie,
        maxAgeS: Math.floor(config.clearance.ttl / 1000),
        domain: config.clearance.domain,
        secure: config.clearance.secure === 'always' || isHttps(ctx.req),
      }),
    );
  };

  const app = new Koa();
  // Errors never escape the middleware below; this only catches Koa's own (e.g. a write failing).
  app.on('error', (error: unknown) => {
    log.error({ event: 'captcha_app_error', error: describe(error) });
  });

  app.use(async (ctx) => {
    try {
      // The server dispatches by normalised path; ctx.path may be spelled any way, so not read.
      const exchange = exchangeOf(ctx.req);
      const method = ctx.method;
      if (method === 'GET' || method === 'HEAD') return showForm(ctx, exchange);
      setCommonHeaders(ctx);
      switch (method) {
        case 'POST':
          return await verify(ctx, exchange);
        default:
          exchange.outcome = 'captcha_failed';
          ctx.set('Allow', 'GET, HEAD, POST');
          return refuseUnread(ctx, 405, DETAIL.method);
      }
    } catch (error) {
      // Nothing was written yet (a GET writes its head last); Koa answers from here.
      ctx.respond = true;
      clearFormHeaders(ctx);
      setCommonHeaders(ctx);
      // The body may be half read; closing is cheaper than draining it.
      ctx.set('Connection', 'close');
      if (error instanceof StoreUnavailable) {
        // Nothing was lifted; the visitor may retry once the store answers again. The outage
        // itself is logged once by guardStore, not here per request.
        return json(ctx, 503, { detail: DETAIL.unavailable });
      }
      // Only name, message and stack: an error may carry the raw body (tokens, captcha answer).
      log.error({ event: 'captcha_error', error: describe(error) }, 'captcha endpoint failed');
      json(ctx, 500, { detail: DETAIL.internal });
    }
  });
  return app;
}

/** A store call failed (e.g. Redis unreachable): the answer is 503, not a generic 500. */
class StoreUnavailable extends Error {
  constructor(cause: unknown) {
    super('store unavailable', { cause });
  }
}

async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new StoreUnavailable(error);
  }
}

function setCommonHeaders(ctx: Context): void {
  for (let i = 0; i < COMMON_HEADERS.length; i += 2) {
    ctx.set(COMMON_HEADERS[i]!, COMMON_HEADERS[i + 1]!);
  }
  const requestId = findExchange(ctx.req)?.requestId;
  if (requestId !== undefined) ctx.set('X-Request-Id', requestId);
}

/** Drops what a half-built answer may have set; Cache-Control and Vary stay. */
function clearFormHeaders(ctx: Context): void {
  for (const name of ['Set-Cookie', 'Location', 'Content-Security-Policy', 'X-Frame-Options']) {
    ctx.remove(name);
  }
}

function describe(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return { name: 'NonError', message: String(error) };
}
