// Settings that are valid but probably not what the operator wants: `--check` prints them and the
// gateway logs them at start. Each check is one small function in CHECKS; adding a warning is
// adding a line there.
import { isDeepStrictEqual } from 'node:util';
import { configSchema, type Config } from './schema.js';

export interface ConfigWarning {
  /** The stable `event` of the log line at start. */
  readonly event: string;
  /** The config key the warning is about, as in problem lines (`admin.token`). */
  readonly key: string;
  /** What is wrong and what to do; never a secret's value. */
  readonly message: string;
}

type Check = (config: Config) => ConfigWarning | undefined;

/** Shorter than this, a secret an attacker can try offline (an HMAC key) or online is weak. */
export const MIN_SECRET_LENGTH = 32;

const CHECKS: readonly Check[] = [
  (config) =>
    config.csrf.secret === ''
      ? {
          event: 'csrf_secret_ephemeral',
          key: 'csrf.secret',
          message:
            "empty: tokens are signed with a random per-process key, so replicas reject each other's tokens and clearances, and a restart invalidates open forms and clearances",
        }
      : undefined,
  (config) => weakSecret('csrf.secret', config.csrf.secret),
  (config) => weakSecret('admin.token', config.admin.token),
  (config) =>
    config.captcha.secret === ''
      ? {
          event: 'captcha_secret_missing',
          key: 'captcha.secret',
          message: 'empty: the provider will reject every verification',
        }
      : undefined,
  // The headless storefront reads the key out of the form with /sitekey=["|']\w+/: a key with a
  // character outside \w (a '-', say) reaches its widget cut short.
  (config) =>
    /\W/.test(config.captcha.site_key)
      ? {
          event: 'captcha_site_key_not_word',
          key: 'captcha.site_key',
          message:
            'holds a character other than a letter, digit or _: a headless storefront that reads the key with \\w+ gets it cut short there',
        }
      : undefined,
  (config) =>
    config.captcha.provider === 'test'
      ? {
          event: 'test_captcha_provider',
          key: 'captcha.provider',
          message: '"test": a checkbox passes the captcha. Never use this in production',
        }
      : undefined,
  // config/default.yaml lists store.redis with its defaults: only a changed setting is a sign
  // that Redis was meant.
  (config) =>
    config.store.type === 'memory' && !isDeepStrictEqual(config.store.redis, defaultRedis())
      ? {
          event: 'store_redis_ignored',
          key: 'store.redis',
          message:
            'changed from its defaults, but store.type is memory: the section is ignored (set store.type: redis to share counters through Redis)',
        }
      : undefined,
];

/** Every warning for a valid config, in the order of CHECKS. */
export function configWarnings(config: Config): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const check of CHECKS) {
    const warning = check(config);
    if (warning) warnings.push(warning);
  }
  return warnings;
}

/** The line `--check` prints for a warning. */
export function formatWarning(warning: ConfigWarning): string {
  return `warning: ${warning.key}: ${warning.message}`;
}

function weakSecret(key: string, value: string): ConfigWarning | undefined {
  if (value === '' || value.length >= MIN_SECRET_LENGTH) return undefined;
  return {
    event: 'weak_secret',
    key,
    // The value, and even its length, stays out of the line: it is printed and logged.
    message: `shorter than ${MIN_SECRET_LENGTH} characters: use a long random value (openssl rand -hex 32)`,
  };
}

let defaults: Config['store']['redis'] | undefined;
/** store.redis as the schema fills it in when the file says nothing about it. */
function defaultRedis(): Config['store']['redis'] {
  defaults ??= configSchema.parse({ upstream: { url: 'http://127.0.0.1' } }).store.redis;
  return defaults;
}
