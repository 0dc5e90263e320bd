// The single source of truth for config keys, their defaults and their rules. Durations come out
// in milliseconds and sizes in bytes; everything else keeps the YAML's names.
import { z } from 'zod';
import { parseRangeEntry, RANGE_NAMES } from '../client-ip/cidr.js';
import { parseHostPort } from './host-port.js';
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

/** host:port, the host a name, an IPv4 address or a bracketed IPv6 address. */
const hostPort = checked(
  REQUIRED,
  (v) => parseHostPort(v) !== undefined,
  'host:port, such as redis-sentinel:26379, 10.0.0.5:6379 or [2001:db8::5]:6379',
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

const name = checked(
  REQUIRED,
  (v) => /^[A-Za-z0-9_.-]{1,64}$/.test(v),
  'a name of letters, digits, _ . or -',
);

/** One budget of a shared address's own traffic: its own count and its own throttle. */
const budget = z.strictObject({
  name,
  path: pathPrefix.prefault('/'),
  methods: list(method, []),
  limit: integer(REQUIRED, 1, 1_000_000_000),
  window: duration(REQUIRED, { min: 1000 }),
});

/** Addresses many clients share (a headless storefront's servers, an office or carrier NAT). */
const sharedGroup = z.strictObject({
  name,
  addresses: list(addressRange, []),
  budgets: list(budget, []),
});

// What the captcha page may load or link to: an https URL, or a path on this site (a support
// link may also be a mailto: address). A path must not start with // or /\ (a browser reads both
// as another host). No spaces or control characters anywhere: the URL parser would drop some of
// them, the page would not.
// eslint-disable-next-line no-control-regex
const SITE_PATH = /^\/(?![/\\])[^\s\\\u0000-\u001f\u007f]*$/;
// eslint-disable-next-line no-control-regex
const SPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f]/;
const isSitePath = (value: string): boolean => SITE_PATH.test(value);
const isMailto = (value: string): boolean => /^mailto:[^\s<>"'\\]+@[^\s<>"'\\]+$/i.test(value);
const isHttpsUrl = (value: string): boolean => {
  if (SPACE_OR_CONTROL.test(value)) return false;
  try {
    const url = new URL(value);
    return (
      url.protocol === 'https:' && url.hostname !== '' && url.username === '' && url.password === ''
    );
  } catch {
    return false;
  }
};

/** A text the page shows: required, and not blank. */
const pageText = checked(REQUIRED, (v) => v.trim() !== '', 'a text that is not blank');

// Every text the page shows is required in every language; `tab_title` falls back to the
// heading, and `support` is needed only when `captcha.page.support_url` is set.
const languageTexts = z.strictObject({
  heading: pageText,
  tab_title: text(''),
  explanation: pageText,
  instruction: pageText,
  submit: pageText,
  failed: pageText,
  reference: pageText,
  support: text(''),
});

const DEFAULT_LANGUAGES = {
  tr: {
    heading: 'Devam etmek için insan olduğunuzu doğrulayın',
    tab_title: 'Güvenlik kontrolü',
    explanation:
      'Ağınızdan olağan dışı trafik algıladık. Bu isteklerin otomatik bir programdan değil, ' +
      'sizden geldiğinden emin olmak istiyoruz.',
    instruction:
      'Aşağıdaki doğrulamayı tamamlayın ve Devam et düğmesine basın; baktığınız sayfaya geri döneceksiniz.',
    submit: 'Devam et',
    failed: 'Doğrulama başarısız, lütfen tekrar deneyin.',
    reference: 'Referans',
    support: 'Destek ile iletişime geçin',
  },
  en: {
    heading: 'Confirm you are human to continue',
    tab_title: 'Security check',
    explanation:
      'We saw unusual traffic from your network. We want to make sure these requests come from ' +
      'you and not from an automated program.',
    instruction:
      'Complete the check below, then press Continue to go back to the page you were on.',
    submit: 'Continue',
    failed: 'Verification failed, please try again.',
    reference: 'Reference',
    support: 'Contact support',
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
      body_timeout: duration('60s'),
      send_timeout: duration('60s'),
      tunnel_idle_timeout: duration('10m'),
      max_connections_per_client: integer(256, 1, 1_000_000),
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
        max_requests_per_client: integer(32, 1, 65535),
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
      max_throttled: integer(100_000, 1, 100_000_000),
      exempt: section({
        paths: list(pathPrefix, ['/static/', '/media/']),
        clients: list(addressRange, []),
      }),
      rules: list(rule, [
        { name: 'login', path: '/users/login/', methods: ['POST'], limit: 10, window: '60s' },
      ]),
      shared: list(sharedGroup, []),
    }),
    clearance: section({
      enabled: boolean(true),
      cookie: checked(
        'cgw_clearance',
        (v) => /^[A-Za-z0-9_-]{1,64}$/.test(v),
        'a cookie name of letters, digits, _ or -',
      ),
      ttl: duration('30m', { min: 60_000 }),
      secure: oneOf(['auto', 'always'], 'auto'),
      domain: checked(
        '',
        (v) => v === '' || /^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(v),
        'a domain name such as shop.example, or "" for this host only',
      ),
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
      page: section({
        shop_name: text(''),
        logo_url: checked(
          '',
          (v) => v === '' || isHttpsUrl(v) || isSitePath(v),
          'an https:// URL or a path on this site such as /static/logo.svg, or "" for none',
        ),
        accent_color: checked(
          '#1a5fd0',
          (v) => /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(v),
          'a CSS hex colour such as #1a5fd0 or #07c',
        ),
        support_url: checked(
          '',
          (v) => v === '' || isHttpsUrl(v) || isSitePath(v) || isMailto(v),
          'an https:// URL, a path on this site such as /help/, a mailto: address, or "" for none',
        ),
      }),
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
        mode: oneOf(['single', 'sentinel', 'cluster'], 'single'),
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
        sentinel: section({
          master_name: text(''),
          nodes: list(hostPort, []),
          username: text(''),
          password: text(''),
          sentinel_username: text(''),
          sentinel_password: text(''),
          tls: boolean(false),
        }),
        cluster: section({
          nodes: list(hostPort, []),
          username: text(''),
          password: text(''),
          tls: boolean(false),
        }),
        prefix: text('cgw:'),
        on_error: oneOf(['allow', 'deny'], 'allow'),
        connect_timeout: duration('2s'),
        command_timeout: duration('250ms'),
        throttle_cache: section({
          max_clients: integer(100_000, 0, 10_000_000),
          recheck: duration('5s', { min: 100 }),
        }),
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
    if (captcha.page.logo_url !== '' && captcha.page.shop_name.trim() === '') {
      ctx.addIssue({
        code: 'custom',
        path: ['captcha', 'page', 'logo_url'],
        message: 'needs captcha.page.shop_name too (the text a screen reader says for the logo)',
      });
    }
    if (captcha.page.support_url !== '') {
      for (const [language, texts] of Object.entries(captcha.languages)) {
        if (texts.support.trim() === '') {
          ctx.addIssue({
            code: 'custom',
            path: ['captcha', 'languages', language, 'support'],
            message:
              'is required when captcha.page.support_url is set (the text of the support link)',
          });
        }
      }
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
    checkUniqueNames(config.throttle.rules, ['throttle', 'rules'], 'rule', ctx);
    checkSharedGroups(config.throttle.shared, ctx);
    // Node refuses to start a server whose header deadline outlasts its whole-request deadline.
    if (config.listen.headers_timeout > config.listen.request_timeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen', 'headers_timeout'],
        message: `${config.listen.headers_timeout}ms is longer than listen.request_timeout (${config.listen.request_timeout}ms); it must not be`,
      });
    }
    const redis = config.store.redis;
    if (config.store.type === 'redis' && redis.mode === 'sentinel') {
      if (redis.sentinel.master_name === '') {
        ctx.addIssue({
          code: 'custom',
          path: ['store', 'redis', 'sentinel', 'master_name'],
          message:
            'is required with mode "sentinel" (the name the sentinels monitor, e.g. mymaster)',
        });
      }
      if (redis.sentinel.nodes.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['store', 'redis', 'sentinel', 'nodes'],
          message: 'must list at least one sentinel (host:port; three or more for a failover)',
        });
      }
    }
    if (
      config.store.type === 'redis' &&
      redis.mode === 'cluster' &&
      redis.cluster.nodes.length === 0
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['store', 'redis', 'cluster', 'nodes'],
        message: 'must list at least one cluster node (host:port) to discover the others from',
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

/** Names in a list must differ: a duplicate is reported at its own path. */
function checkUniqueNames(
  items: readonly { readonly name: string }[],
  path: (string | number)[],
  what: string,
  ctx: z.RefinementCtx,
): void {
  const names = new Set<string>();
  items.forEach((item, i) => {
    if (names.has(item.name)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, i, 'name'],
        message: `${JSON.stringify(item.name)} is used by an earlier ${what} (names must be unique)`,
      });
    }
    names.add(item.name);
  });
}

/** Unique group names, at least one address each, unique budget names within a group. */
function checkSharedGroups(
  groups: readonly z.output<typeof sharedGroup>[],
  ctx: z.RefinementCtx,
): void {
  checkUniqueNames(groups, ['throttle', 'shared'], 'group', ctx);
  groups.forEach((group, i) => {
    if (group.addresses.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['throttle', 'shared', i, 'addresses'],
        message: 'must list at least one address, CIDR or range name',
      });
    }
    checkUniqueNames(
      group.budgets,
      ['throttle', 'shared', i, 'budgets'],
      'budget of this group',
      ctx,
    );
  });
}

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The validated, frozen config. Durations are milliseconds, sizes bytes. */
export type Config = DeepReadonly<z.output<typeof configSchema>>;
export type Provider = (typeof PROVIDERS)[number];
