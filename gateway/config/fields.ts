// Field builders for the config schema. Each one accepts what YAML (and ${ENV} interpolation,
// which always yields strings) can produce, validates its default through the same parser, and
// words its problem as "<value> is not <what is allowed>".
import { z } from 'zod';
import { parseDurationMs, parseSizeBytes } from './units.js';

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  return typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value));
}

const REQUIRED = Symbol('required');

/** `fallback` REQUIRED makes the key mandatory; otherwise a missing key takes the fallback. */
function field<T>(parse: (value: unknown) => T | undefined, expected: string, fallback: unknown) {
  const schema = z.unknown().transform((value, ctx) => {
    const parsed = parse(value);
    if (parsed === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          value === undefined ? `is required (${expected})` : `${show(value)} is not ${expected}`,
        // Kept apart so a secret's problem can be told without its value (problems.ts).
        params: { expected },
      });
      return z.NEVER;
    }
    return parsed;
  });
  return fallback === REQUIRED ? schema : schema.prefault(fallback);
}

export { REQUIRED };

/** Milliseconds, written as "250ms", "30s", "15m", "1h" or a number of seconds. */
export function duration(fallback: string | typeof REQUIRED, { min = 1 }: { min?: number } = {}) {
  return field(
    (value) => {
      const ms = parseDurationMs(value);
      return ms !== undefined && ms >= min ? ms : undefined;
    },
    `a duration of at least ${min}ms (use 250ms, 30s, 15m, 1h or a number of seconds)`,
    fallback,
  );
}

/** Bytes, written as "16kb", "1mb" or a number of bytes. */
export function size(fallback: string) {
  return field(
    (value) => {
      const bytes = parseSizeBytes(value);
      return bytes !== undefined && bytes > 0 ? bytes : undefined;
    },
    'a size (use 512b, 16kb, 1mb or a number of bytes)',
    fallback,
  );
}

export function integer(fallback: number | typeof REQUIRED, min: number, max: number) {
  return field(
    (value) => {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
    },
    `a whole number from ${min} to ${max}`,
    fallback,
  );
}

export function decimal(fallback: number, min: number, max: number) {
  return field(
    (value) => {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      return typeof n === 'number' && Number.isFinite(n) && n >= min && n <= max ? n : undefined;
    },
    `a number from ${min} to ${max}`,
    fallback,
  );
}

export function boolean(fallback: boolean) {
  return field(
    (value) => {
      if (typeof value === 'boolean') return value;
      if (value === 'true') return true;
      if (value === 'false') return false;
      return undefined;
    },
    'true or false',
    fallback,
  );
}

export function text(fallback: string | typeof REQUIRED) {
  return field(
    (value) =>
      typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined,
    'a string',
    fallback,
  );
}

export function oneOf<const T extends string>(choices: readonly T[], fallback: T) {
  return field(
    (value) =>
      typeof value === 'string' && (choices as readonly string[]).includes(value.toLowerCase())
        ? (value.toLowerCase() as T)
        : undefined,
    `one of ${choices.join(', ')}`,
    fallback,
  );
}

/** A string that must satisfy `check`; `expected` says what is allowed. */
export function checked(
  fallback: string | typeof REQUIRED,
  check: (value: string) => boolean,
  expected: string,
) {
  return field(
    (value) => (typeof value === 'string' && check(value) ? value : undefined),
    expected,
    fallback,
  );
}

/** A YAML list; a missing key takes `fallback`. */
export function list<T extends z.ZodType>(item: T, fallback: unknown[]) {
  return z.array(item).prefault(fallback as never);
}

/** A mapping with exactly these keys; a missing mapping is built from its keys' defaults. */
export function section<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape).prefault({} as never);
}
