// The single source of truth for config keys, their defaults and their rules. Durations come out
// in milliseconds and sizes in bytes; everything else keeps the YAML's names.
import { z } from 'zod';
import { parseRangeEntry, RANGE_NAMES } from '../client-ip/cidr.js';
import {
  boolean,
  checked,
  decimal,
  duration,
  integer,
  list,
  oneOf,
  REQUIRED,
  section,
  size,
  text,
} from './fields.js';

const isHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
};
const isRange = (value: string): boolean => parseRangeEntry(value) !== undefined;
const isPath = (value: string): boolean => /^\/[^\s?#]*$/.test(value);

const pathPrefix = checked(
  REQUIRED,
  isPath,
  'a path starting with / (no spaces, query or fragment)',
);
const addressRange = checked(
  REQUIRED,
  isRange,
  `an address, a CIDR such as 10.0.0.0/8 or 2001:db8::/32, or one of ${RANGE_NAMES.join(', ')}`,
);
const optionalUrl = checked(
  '',
  (v) => v === '' || isHttpUrl(v),
  'an http(s) URL, or "" for the default',
);

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'];
const method = checked(
  REQUIRED,
  (v) => METHODS.includes(v.toUpperCase()),
  `an HTTP method (${METHODS.join(', ')})`,
).transform((v) => v.toUpperCase());

const rule = z.strictObject({
  name: checked(
    REQUIRED,
    (v) => /^[A-Za-z0-9_.-]{1,64}$/.test(v),
    'a name of letters, digits, _ . or -',
  ),
  path: pathPrefix,
  methods: list(method, []),
  limit: integer(REQUIRED, 1, 1_000_000_000),
  window: duration(REQUIRED, { min: 1000 }),
});

const languageTexts = z.strictObject({
  title: text(REQUIRED),
  submit: text(REQUIRED),
  failed: text(REQUIRED),
});

const DEFAULT_LANGUAGES = {
  tr: {
    title: 'DEVAM ETMEK İÇİN',
    submit: 'Devam et',
    failed: 'Doğrulama başarısız, lütfen tekrar deneyin.',
  },
  en: {
    title: 'TO CONTINUE',
    submit: 'Continue',
    failed: 'Verification failed, please try again.',
  },
};

export const PROVIDERS = ['recaptcha', 'hcaptcha', 'turnstile', 'test'] as const;
export const CLIENT_IP_HEADERS = [
  'x-forwarded-for',
  'x-real-ip',
  'cf-connecting-ip',
  'true-client-ip',
] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z
  .strictObject({
    listen: section({
      host: text('0.0.0.0'),
      port: integer(8080, 0, 65535),
      headers_timeout: duration('20s'),
      request_timeout: duration('300s'),
      keep_alive_timeout: duration('65s'),
      drain_timeout: duration('25s'),
    }),
    admin: section({
      // Loopback: metrics and the admin API are never on every interface unless asked for.
      host: text('127.0.0.1'),
      port: integer(9090, 0, 65535),
      token: text(''),
    }),
    upstream: z
      .strictObject({
        url: checked(REQUIRED, isHttpUrl, 'an http(s) URL such as http://127.0.0.1:8000'),
        timeout: duration('30s'),
        connect_timeout: duration('5s'),
        change_origin: boolean(false),
        max_sockets: integer(512, 1, 65535),
      })
      .prefault({} as never),
    client_ip: section({
      header: oneOf(CLIENT_IP_HEADERS, 'x-forwarded-for'),
      trusted_proxies: list(addressRange, ['loopback', 'private']),
      ipv6_prefix: integer(64, 1, 128),
    }),
    throttle: section({
      mode: oneOf(['enforce', 'observe'], 'enforce'),
      headers: boolean(false),
      limit: integer(300, 1, 1_000_000_000),
      window: duration('60s', { min: 1000 }),
      block: duration('15m', { min: 1000 }),
      max_clients: integer(1_000_000, 1, 100_000_000),
      exempt: section({
        paths: list(pathPrefix, ['/static/', '/media/']),
        clients: list(addressRange, []),
      }),
      rules: list(rule, [
        { name: 'login', path: '/users/login/', methods: ['POST'], limit: 10, window: '60s' },
      ]),
    }),
    captcha: section({
      provider: oneOf(PROVIDERS, 'recaptcha'),
      site_key: text(''),
      secret: text(''),
      verify_url: optionalUrl,
      script_url: optionalUrl,
      verify_timeout: duration('5s'),
      min_score: decimal(0, 0, 1),
      hostnames: list(text(REQUIRED), []),
      paths: list(pathPrefix, ['/users/captcha/', '/users/pz-captcha/']),
      redirect_path: pathPrefix.prefault('/users/captcha/'),
      attempts: section({
        limit: integer(10, 1, 1_000_000),
        window: duration('60s', { min: 1000 }),
      }),
      max_body: size('16kb'),
      default_language: text('tr'),
      languages: z
        .record(
          checked(
            REQUIRED,
            (v) => /^[a-z]{2,3}(-[a-z0-9]{2,8})?$/.test(v),
            'a language tag such as tr or en-us',
          ),
          languageTexts,
        )
        .prefault(DEFAULT_LANGUAGES),
    }),
    csrf: section({
      secret: text(''),
      ttl: duration('10m', { min: 1000 }),
    }),
    store: section({
      type: oneOf(['memory', 'redis'], 'memory'),
      redis: section({
        url: checked(
          'redis://127.0.0.1:6379/0',
          // What node-redis accepts: redis: or rediss:, a host, a database index as the only path.
          (v) => {
            try {
              const url = new URL(v);
              return (
                /^rediss?:$/.test(url.protocol) &&
                url.hostname !== '' &&
                /^(\/\d*)?$/.test(url.pathname)
              );
            } catch {
              return false;
            }
          },
          'a redis:// or rediss:// URL (redis[s]://[[user]:password@]host[:port][/db])',
        ),
        prefix: text('cgw:'),
        on_error: oneOf(['allow', 'deny'], 'allow'),
        connect_timeout: duration('2s'),
        command_timeout: duration('250ms'),
      }),
    }),
    log: section({
      level: oneOf(LOG_LEVELS, 'info'),
    }),
  })
  .superRefine((config, ctx) => {
    const captcha = config.captcha;
    if (captcha.paths.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['captcha', 'paths'],
        message: 'must list at least one path',
      });
    }
    if (!captcha.paths.includes(captcha.redirect_path)) {
      ctx.addIssue({
        code: 'custom',
        path: ['captcha', 'redirect_path'],
        message: `${JSON.stringify(captcha.redirect_path)} is not one of captcha.paths (${captcha.paths.join(', ')})`,
      });
    }
    if (!(captcha.default_language in captcha.languages)) {
      ctx.addIssue({
        code: 'custom',
        path: ['captcha', 'default_language'],
        message: `${JSON.stringify(captcha.default_language)} is not one of captcha.languages (${Object.keys(captcha.languages).join(', ')})`,
      });
    }
    if (captcha.provider === 'test') {
      for (const key of ['verify_url', 'script_url'] as const) {
        if (captcha[key] === '') {
          ctx.addIssue({
            code: 'custom',
            path: ['captcha', key],
            message:
              'is required with provider "test" (the local test provider has no public default)',
          });
        }
      }
    }
    const names = new Set<string>();
    config.throttle.rules.forEach((r, i) => {
      if (names.has(r.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['throttle', 'rules', i, 'name'],
          message: `${JSON.stringify(r.name)} is used by an earlier rule (names must be unique)`,
        });
      }
      names.add(r.name);
    });
    // Node refuses to start a server whose header deadline outlasts its whole-request deadline.
    if (config.listen.headers_timeout > config.listen.request_timeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen', 'headers_timeout'],
        message: `${config.listen.headers_timeout}ms is longer than listen.request_timeout (${config.listen.request_timeout}ms); it must not be`,
      });
    }
    if (config.listen.port !== 0 && config.listen.port === config.admin.port) {
      ctx.addIssue({
        code: 'custom',
        path: ['admin', 'port'],
        message: `${config.admin.port} is also listen.port (the admin port must differ)`,
      });
    }
  });

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The validated, frozen config. Durations are milliseconds, sizes bytes. */
export type Config = DeepReadonly<z.output<typeof configSchema>>;
export type Provider = (typeof PROVIDERS)[number];
