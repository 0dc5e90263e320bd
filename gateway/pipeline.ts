// Everything the request path derives from one config, built once per (re)load so a reload swaps
// it whole and a request in flight keeps the pipeline it started with.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { createCaptchaApp } from './captcha/app.js';
import { createClearanceReader, type ClearanceReader } from './clearance/reader.js';
import { createClearanceTokens, type ClearanceTokens } from './clearance/tokens.js';
import { AddressSet } from './client-ip/cidr.js';
import { createClientResolver, type ClientResolver } from './client-ip/resolve.js';
import type { Config } from './config/schema.js';
import { createCsrfTokens } from './csrf/tokens.js';
import { createHttpsTest } from './http/scheme.js';
import type { Store } from './limiter/store.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { SigningKey } from './signing-key.js';
import type { PolicyOptions } from './policy/decide.js';
import { compileRoutes, type Classifier } from './policy/routes.js';
import { compileSharedGroups, type SharedGroups } from './policy/shared-budgets.js';
import { createUpstreamProxy, type UpstreamProxy } from './proxy/proxy.js';

export interface Pipeline {
  readonly config: Config;
  readonly resolveClient: ClientResolver;
  /** The valid clearance a Cookie header carries; undefined when none (or clearance is off). */
  readonly readClearance: ClearanceReader;
  readonly shared: SharedGroups;
  readonly classify: Classifier;
  readonly policy: PolicyOptions;
  readonly captcha: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  readonly proxy: UpstreamProxy;
}

export interface PipelineDeps {
  readonly store: Store;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: () => number;
  /** Resolves `csrf.secret` to key bytes; made once per gateway, so reloads keep a random key. */
  readonly signingKey: SigningKey;
  readonly isDraining: () => boolean;
  readonly onUpstreamError: (req: IncomingMessage) => void;
  readonly onUpstreamResponse: (req: IncomingMessage) => void;
}

/** Builds the pipeline for `config`, reusing the previous one's upstream pool when it can. */
export function buildPipeline(config: Config, deps: PipelineDeps, previous?: Pipeline): Pipeline {
  const trusted = new AddressSet(config.client_ip.trusted_proxies);
  const sameUpstream =
    previous !== undefined &&
    isDeepStrictEqual(previous.config.upstream, config.upstream) &&
    isDeepStrictEqual(previous.config.client_ip.trusted_proxies, config.client_ip.trusted_proxies);
  const proxy = sameUpstream
    ? previous.proxy
    : createUpstreamProxy({
        upstream: config.upstream,
        trusted,
        isDraining: deps.isDraining,
        onUpstreamError: deps.onUpstreamError,
        onUpstreamResponse: deps.onUpstreamResponse,
      });
  const csrf = createCsrfTokens({
    key: deps.signingKey(config.csrf.secret),
    ttlMs: config.csrf.ttl,
    now: deps.now,
  });
  const clearances: ClearanceTokens | undefined = config.clearance.enabled
    ? createClearanceTokens({
        key: deps.signingKey(config.csrf.secret),
        ttlMs: config.clearance.ttl,
        now: deps.now,
      })
    : undefined;
  return {
    config,
    resolveClient: createClientResolver({
      header: config.client_ip.header,
      trusted,
      ipv6Prefix: config.client_ip.ipv6_prefix,
    }),
    readClearance: createClearanceReader(clearances, config.clearance.cookie),
    shared: compileSharedGroups(config),
    classify: compileRoutes(config, new AddressSet(config.throttle.exempt.clients)),
    policy: { mode: config.throttle.mode, onStoreError: config.store.redis.on_error },
    captcha: createCaptchaApp({
      ...deps,
      config,
      csrf,
      clearances,
      isHttps: createHttpsTest(trusted),
    }).callback(),
    proxy,
  };
}

/** Config keys a running gateway cannot take over: their change waits for a restart. */
export function keysNeedingRestart(running: Config, next: Config): string[] {
  const fixed: [string, unknown, unknown][] = [
    ['listen', running.listen, next.listen],
    ['admin.host', running.admin.host, next.admin.host],
    ['admin.port', running.admin.port, next.admin.port],
    ['store', running.store, next.store],
    ['throttle.max_clients', running.throttle.max_clients, next.throttle.max_clients],
    ['throttle.max_throttled', running.throttle.max_throttled, next.throttle.max_throttled],
  ];
  return fixed.filter(([, a, b]) => !isDeepStrictEqual(a, b)).map(([key]) => key);
}
