// The gateway config every bench run uses: limits that are never reached, no log lines, loopback
// trusted (so X-Forwarded-For from the load generator names the client), the stated store.

export interface BenchConfigOptions {
  readonly upstreamUrl: string;
  readonly store: 'memory' | 'redis';
  readonly redisUrl: string;
  /** A key prefix of this bench run alone, so it never touches anyone else's keys. */
  readonly redisPrefix: string;
  readonly maxClients: number;
}

/** The limit of every counter: a run of minutes at any plausible rate never reaches it. */
export const NEVER_REACHED = 1_000_000_000;

export function benchConfigYaml(options: BenchConfigOptions): string {
  return [
    'listen: { host: 127.0.0.1, port: 0 }',
    'admin: { host: 127.0.0.1, port: 0 }',
    // One client drives every connection of the load generator: its share of the upstream is
    // raised to half the pool so the bench measures proxying, not the per-client bound.
    `upstream: { url: ${JSON.stringify(options.upstreamUrl)}, max_requests_per_client: 256 }`,
    'client_ip: { trusted_proxies: [loopback] }',
    `throttle: { limit: ${NEVER_REACHED}, max_clients: ${options.maxClients} }`,
    'captcha: { site_key: bench-site-key, secret: bench-secret }',
    'csrf: { secret: bench-csrf-secret-of-enough-length }',
    `store: { type: ${options.store}, redis: { url: ${JSON.stringify(options.redisUrl)}, prefix: ${JSON.stringify(options.redisPrefix)} } }`,
    'log: { level: silent }',
    '',
  ].join('\n');
}
