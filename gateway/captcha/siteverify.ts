// Asks the provider's siteverify whether a captcha response is genuine, and judges its answer
// against our hostname and score rules. An outage is kept apart from a "no".
import { got } from 'got';

export type SiteverifyResult =
  | { readonly kind: 'success'; readonly hostname?: string; readonly score?: number }
  | { readonly kind: 'rejected'; readonly errorCodes: readonly string[] }
  /** `reason` is private: for logs only, never for a response body. */
  | { readonly kind: 'error'; readonly reason: string };

export interface SiteverifyOptions {
  /** The provider's siteverify URL (reCAPTCHA, hCaptcha and Turnstile speak the same protocol). */
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs: number;
}

export type Siteverify = (response: string, remoteip: string) => Promise<SiteverifyResult>;

// Codes that say our side is misconfigured or the provider is failing, not that the visitor
// failed: every visitor would get them, so they are an outage (503), not a rejection (400).
const OUTAGE_CODES = new Set([
  'missing-input-secret',
  'invalid-input-secret',
  'sitekey-secret-mismatch',
  'internal-error',
]);
// Provider codes are echoed to the client, so only short, plain ones pass through.
const CODE_SHAPE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const MAX_CODES = 8;

export function createSiteverify({ url, secret, timeoutMs }: SiteverifyOptions): Siteverify {
  return async (response, remoteip) => {
    let status: number;
    let body: string;
    try {
      const answer = await got.post(url, {
        form: { secret, response, remoteip },
        timeout: { request: timeoutMs },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
        responseType: 'text',
      });
      status = answer.statusCode;
      body = answer.body;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { kind: 'error', reason: typeof code === 'string' ? code : 'request failed' };
    }
    // 5xx, 429 (rate limited) and 3xx are the provider failing; a 4xx may still carry an answer.
    if (status < 200 || status >= 500 || status === 429 || (status >= 300 && status < 400)) {
      return { kind: 'error', reason: `status ${status}` };
    }
    return interpret(body, status);
  };
}

/** Reads a siteverify body; only a JSON boolean `true` in `success` passes. */
export function interpret(body: string, status = 200): SiteverifyResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'error', reason: `status ${status}, body is not JSON` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { kind: 'error', reason: `status ${status}, body is not a JSON object` };
  }
  const answer = parsed as Record<string, unknown>;
  if (answer.success === true) {
    const result: { kind: 'success'; hostname?: string; score?: number } = { kind: 'success' };
    if (typeof answer.hostname === 'string') result.hostname = answer.hostname;
    if (typeof answer.score === 'number' && Number.isFinite(answer.score)) {
      result.score = answer.score;
    }
    return result;
  }
  if (answer.success !== false) {
    return { kind: 'error', reason: `status ${status}, "success" is not a boolean` };
  }
  const raw = Array.isArray(answer['error-codes']) ? (answer['error-codes'] as unknown[]) : [];
  const codes = raw.filter((c): c is string => typeof c === 'string');
  const outage = codes.find((code) => OUTAGE_CODES.has(code));
  if (outage !== undefined) return { kind: 'error', reason: `provider says ${outage}` };
  return {
    kind: 'rejected',
    errorCodes: codes.filter((code) => CODE_SHAPE.test(code)).slice(0, MAX_CODES),
  };
}

export interface JudgeRules {
  /** Non-empty: the hostname siteverify reports must be one of these (case-insensitive). */
  readonly hostnames: readonly string[];
  /** Above 0: the score siteverify reports must be a number at least this (reCAPTCHA v3). */
  readonly minScore: number;
}

/** Applies our rules to a successful answer; anything else passes through unchanged. */
export function judge(
  result: SiteverifyResult,
  { hostnames, minScore }: JudgeRules,
): SiteverifyResult {
  if (result.kind !== 'success') return result;
  if (hostnames.length > 0) {
    const hostname = result.hostname?.toLowerCase();
    if (hostname === undefined || !hostnames.some((h) => h.toLowerCase() === hostname)) {
      return { kind: 'rejected', errorCodes: ['hostname-mismatch'] };
    }
  }
  if (minScore > 0 && (result.score === undefined || result.score < minScore)) {
    return { kind: 'rejected', errorCodes: ['score-too-low'] };
  }
  return result;
}
