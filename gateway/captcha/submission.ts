// Picks the captcha POST's fields out of a parsed body, refusing any that is not one plain string.
import { safeNext } from './safe-next.js';

/** Fields holding the widget's answer, by provider; the first one present is used. */
export const RESPONSE_FIELDS = [
  'g-recaptcha-response',
  'h-captcha-response',
  'cf-turnstile-response',
] as const;

export type Submission =
  | {
      readonly kind: 'ok';
      /** From the `csrfmiddlewaretoken` field, else the X-CSRFToken header. */
      readonly csrfToken: string | undefined;
      readonly captchaResponse: string | undefined;
      /** Always a local path (safeNext). */
      readonly next: string;
    }
  /** `field` names what was wrong, for logs; it is one of our own field names. */
  | { readonly kind: 'malformed'; readonly field: string };

export interface SubmissionFallbacks {
  /** The X-CSRFToken header ('' or undefined when absent). */
  readonly csrfHeader?: string | undefined;
  /** The `next` query parameter, as the query parser gave it. */
  readonly queryNext?: unknown;
}

const MALFORMED = Symbol('malformed');

/**
 * A field's value: undefined when absent or empty, MALFORMED when it is not exactly one string
 * (arrays from repeated fields, objects from `a[b]=` or JSON, numbers, files) or holds NUL.
 */
function field(
  fields: Readonly<Record<string, unknown>>,
  name: string,
): string | undefined | typeof MALFORMED {
  if (!Object.hasOwn(fields, name)) return undefined;
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.includes('\0')) return MALFORMED;
  return value === '' ? undefined : value;
}

export function parseSubmission(
  fields: Readonly<Record<string, unknown>>,
  { csrfHeader, queryNext }: SubmissionFallbacks = {},
): Submission {
  const csrfField = field(fields, 'csrfmiddlewaretoken');
  if (csrfField === MALFORMED) return { kind: 'malformed', field: 'csrfmiddlewaretoken' };

  let captchaResponse: string | undefined;
  for (const name of RESPONSE_FIELDS) {
    const value = field(fields, name);
    if (value === MALFORMED) return { kind: 'malformed', field: name };
    captchaResponse ??= value;
  }

  const nextField = field(fields, 'next');
  if (nextField === MALFORMED) return { kind: 'malformed', field: 'next' };

  return {
    kind: 'ok',
    csrfToken: csrfField ?? (csrfHeader || undefined),
    captchaResponse,
    next: safeNext(nextField ?? queryNext),
  };
}
