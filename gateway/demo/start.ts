// Wires the demo: the demo shop and the local test captcha provider on free loopback ports, and
// the real gateway in front of them, configured through the real config validation.
import { randomBytes } from 'node:crypto';
import { pino, type DestinationStream } from 'pino';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { createGateway } from '../server.js';
import { HELP_PATH, LOGO_PATH, SHOP_NAME, startDemoShop } from './shop.js';
import { startTestProvider, type SiteverifyCall, type TestProvider } from './test-provider.js';

export interface DemoOptions {
  /** The gateway's public port; 0 picks a free one. A string (DEMO_PORT) is checked by the config. */
  readonly port?: number | string;
  /** The admin port; 0 picks a free one. */
  readonly adminPort?: number | string;
  /** The gateway's log level (`info` by default; tests pass `silent`). */
  readonly logLevel?: string;
  /** Where the gateway's JSON log lines go; stdout by default. */
  readonly logDestination?: DestinationStream;
  /** Told about every siteverify call the gateway makes. */
  readonly onVerify?: (call: SiteverifyCall) => void;
}

export interface RunningDemo {
  /** The gateway's public URL, e.g. http://127.0.0.1:8080/ — the one to open. */
  readonly url: string;
  /** The admin port's URL (healthz, readyz, metrics). */
  readonly adminUrl: string;
  /** The demo shop, directly (not throttled). */
  readonly shopUrl: string;
  readonly provider: Pick<TestProvider, 'url' | 'scriptUrl' | 'verifyUrl'>;
  readonly config: Config;
  /** Drains the gateway, then closes the shop and the provider. */
  stop(): Promise<void>;
}

/** The config refused the demo's settings (a bad DEMO_PORT, for one). */
export class DemoConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the demo config has problems:\n  ${problems.join('\n  ')}`);
    this.name = 'DemoConfigError';
  }
}

const HOST = '127.0.0.1';
export const DEMO_LIMIT = 5;

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  // Fresh secrets every run: nothing a demo prints or leaves behind is worth stealing.
  const captchaSecret = randomBytes(24).toString('hex');
  const csrfSecret = randomBytes(32).toString('hex');
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of [...closers].reverse()) await close().catch(() => undefined);
  };
  try {
    const shop = await startDemoShop(0, HOST);
    closers.push(() => shop.close());
    const provider = await startTestProvider({
      secret: captchaSecret,
      host: HOST,
      ...(options.onVerify ? { onVerify: options.onVerify } : {}),
    });
    closers.push(() => provider.close());

    const yaml = demoConfigYaml({
      port: options.port ?? 8080,
      adminPort: options.adminPort ?? 9090,
      logLevel: options.logLevel ?? 'info',
      upstreamUrl: shop.url,
      captchaSecret,
      csrfSecret,
      verifyUrl: provider.verifyUrl,
      scriptUrl: provider.scriptUrl,
    });
    // An empty environment: the demo's config must not pick up ${...} values from the shell.
    const loaded = parseConfig(yaml, {}, 'demo config');
    if (!loaded.ok) throw new DemoConfigError(loaded.problems);
    const { config } = loaded;

    // Synchronous stdout: the demo's log lines and the block main.ts prints stay in order (pino's
    // default writes later, so its lines would land inside the block). Fine at demo traffic.
    const log = createLogger(
      config.log.level,
      options.logDestination ?? pino.destination({ dest: 1, sync: true }),
    );
    const gateway = createGateway({ config, log });
    // A failed listen may leave one of the two servers bound; shutdown closes whichever is.
    closers.push(() => gateway.shutdown());
    const { publicPort, adminPort } = await gateway.listen();
    log.warn(
      { event: 'test_captcha_provider' },
      'captcha.provider is "test": a checkbox passes the captcha. Never use this in production',
    );
    log.info(
      {
        event: 'listening',
        port: publicPort,
        admin_port: adminPort,
        upstream: config.upstream.url,
      },
      'captcha-gateway demo is listening',
    );

    let stopping: Promise<void> | undefined;
    return {
      url: `http://${HOST}:${publicPort}/`,
      adminUrl: `http://${HOST}:${adminPort}/`,
      shopUrl: shop.url,
      provider: { url: provider.url, scriptUrl: provider.scriptUrl, verifyUrl: provider.verifyUrl },
      config,
      stop: () => (stopping ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

interface DemoSettings {
  readonly port: number | string;
  readonly adminPort: number | string;
  readonly logLevel: string;
  readonly upstreamUrl: string;
  readonly captchaSecret: string;
  readonly csrfSecret: string;
  readonly verifyUrl: string;
  readonly scriptUrl: string;
}

/** The demo's config as an operator would write it; every value goes through the schema. */
function demoConfigYaml(s: DemoSettings): string {
  return `# captcha-gateway demo: a low limit so a person can meet the captcha by reloading.
listen:
  host: ${HOST}
  port: ${scalar(s.port)}
  # Ctrl-C should not wait long for a browser's open connections.
  drain_timeout: 2s
admin: { host: ${HOST}, port: ${scalar(s.adminPort)} }
upstream:
  url: ${scalar(s.upstreamUrl)}
throttle:
  limit: ${DEMO_LIMIT}
  window: 60s
  block: 2m
  exempt:
    # Browsers fetch the icon on their own; counting it would make "the 6th reload" come early.
    # The help page is exempt too: a throttled shopper must reach the captcha page's support link.
    paths: [/static/, /media/, /favicon.ico, ${HELP_PATH}]
captcha:
  provider: test
  site_key: demositekey
  secret: ${scalar(s.captchaSecret)}
  verify_url: ${scalar(s.verifyUrl)}
  script_url: ${scalar(s.scriptUrl)}
  # Browsers still get their Accept-Language; English is the fallback for everyone else.
  default_language: en
  page:
    shop_name: ${scalar(SHOP_NAME)}
    # Under /static/, which is exempt, so a throttled visitor's browser still gets it.
    logo_url: ${LOGO_PATH}
    accent_color: '#0f766e'
    support_url: ${HELP_PATH}
csrf:
  secret: ${scalar(s.csrfSecret)}
log:
  level: ${scalar(s.logLevel)}
`;
}

/** A YAML scalar: numbers as they are, strings double-quoted (JSON strings are valid YAML). */
function scalar(value: number | string): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}
