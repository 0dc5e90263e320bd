// The gateway config every bench run uses: limits that are never reached, no log lines, loopback
// trusted (so X-Forwarded-For from the load generator names the client), the stated store. The
// flood's gateway adds one rule: a client's second request under /flood/ throttles it, for two hours.

export interface BenchConfigOptions {
  readonly upstreamUrl: string;
  readonly store: 'memory' | 'redis';
  readonly redisUrl: string;
  /** A key prefix of this bench run alone, so it never touches anyone else's keys. */
  readonly redisPrefix: string;
  readonly maxClients: number;
  /** Adds the flood rule (FLOOD_PATH, limit 1) and a block that outlasts a bench run (2 h, so Redis keeps its keys no longer). */
  readonly flood?: boolean;
}

/** Where the flood's clients knock: the rule throttles each of them on its second request. */
export const FLOOD_PATH = '/flood/';

/** The limit of every counter: a run of minutes at any plausible rate never reaches it. */
export const NEVER_REACHED = 1_000_000_000;

export function benchConfigYaml(options: BenchConfigOptions): string {
  return [
    // Idle keep-alive connections stay open for the connection-memory figure.
    'listen: { host: 127.0.0.1, port: 0, keep_alive_timeout: 10m }',
    'admin: { host: 127.0.0.1, port: 0 }',
    // One client drives every connection of the load generator: its share of the upstream is
    // raised to half the pool so the bench measures proxying, not the per-client bound.
    `upstream: { url: ${JSON.stringify(options.upstreamUrl)}, max_requests_per_client: 256 }`,
    'client_ip: { trusted_proxies: [loopback] }',
    options.flood
      ? `throttle: { limit: ${NEVER_REACHED}, max_clients: ${options.maxClients}, block: 2h, rules: [{ name: bench-flood, path: ${FLOOD_PATH}, limit: 1, window: 60s }] }`
      : `throttle: { limit: ${NEVER_REACHED}, max_clients: ${options.maxClients} }`,
    'captcha: { site_key: bench-site-key, secret: bench-secret }',
    'csrf: { secret: bench-csrf-secret-of-enough-length }',
    `store: { type: ${options.store}, redis: { url: ${JSON.stringify(options.redisUrl)}, prefix: ${JSON.stringify(options.redisPrefix)} } }`,
    'log: { level: silent }',
    '',
  ].join('\n');
}
