// Parses the host:port of a Redis node as operators write it (Sentinel and Cluster seed lists).

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** "redis-0.redis:6379", "10.0.0.5:26379" or "[2001:db8::5]:6379"; undefined for anything else. */
export function parseHostPort(value: string): HostPort | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  const host = match[1] ?? match[2];
  return host === undefined ? undefined : { host, port };
}
