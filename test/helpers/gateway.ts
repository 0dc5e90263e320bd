// Starts a real gateway in this process on port 0 from a YAML snippet, for integration tests.
import { parseConfig } from '../../gateway/config/load.js';
import type { Config } from '../../gateway/config/schema.js';
import { createLogger } from '../../gateway/log.js';
import type { DestinationStream } from 'pino';
import { createGateway, type Gateway } from '../../gateway/server.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly config: Config;
  /** http://127.0.0.1:<public port> */
  readonly url: string;
  readonly adminUrl: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Epoch ms; lets a test move time forward. */
  readonly now?: () => number;
  readonly env?: NodeJS.ProcessEnv;
  /** Where log lines go (default stdout); see captureLog. Set log.level in the YAML too. */
  readonly logTo?: DestinationStream;
}

/** `yaml` is a full config; listen/admin ports default to 0 and the log to silent. */
export async function startGateway(
  yaml: string,
  options: StartOptions = {},
): Promise<RunningGateway> {
  const source = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nlog: { level: silent }\n${yaml}`;
  const merged = mergeTopLevel(source);
  const result = parseConfig(merged, options.env ?? {});
  if (!result.ok) throw new Error(`test config rejected:\n${result.problems.join('\n')}`);
  const gateway = createGateway({
    config: result.config,
    log: createLogger(result.config.log.level, options.logTo),
    ...(options.now ? { now: options.now } : {}),
  });
  const { publicPort, adminPort } = await gateway.listen();
  return {
    gateway,
    config: result.config,
    url: `http://127.0.0.1:${publicPort}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    port: publicPort,
    stop: () => gateway.shutdown(),
  };
}

/** A log destination that keeps every line, parsed, for assertions. */
export function captureLog(): DestinationStream & { readonly lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
}

/** Later top-level sections of the same name replace earlier ones, so tests can override. */
function mergeTopLevel(source: string): string {
  const sections = new Map<string, string>();
  let current = '';
  for (const line of source.split('\n')) {
    const top = /^([a-z_]+):/.exec(line);
    if (top) {
      current = top[1]!;
      sections.set(current, line);
    } else if (current !== '') {
      sections.set(current, `${sections.get(current)}\n${line}`);
    }
  }
  return [...sections.values()].join('\n');
}
