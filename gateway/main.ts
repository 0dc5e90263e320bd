#!/usr/bin/env node
// The captcha-gateway command: loads and checks the config, starts the gateway, wires signals.
import { HELP, parseCli, USAGE } from './cli.js';
import { loadConfigFile } from './config/load.js';
import { formatWarning } from './config/warnings.js';
import { createLogger, type Logger } from './log.js';
import { reloadFromFile, watchConfigFile } from './reload.js';
import { createGateway } from './server.js';

async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2), process.env);
  if (cli.kind === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (cli.kind === 'mistake') {
    process.stderr.write(`${cli.problem}\n${USAGE}\n(captcha-gateway --help for more)\n`);
    return 2;
  }
  const loaded = loadConfigFile(cli.configFile);
  if (!loaded.ok) {
    process.stderr.write(`${cli.configFile}: the config has problems:\n`);
    for (const problem of loaded.problems) process.stderr.write(`  ${problem}\n`);
    return 1;
  }
  if (cli.checkOnly) {
    // "config OK" stays the first line, whatever follows: scripts may look for it.
    process.stdout.write(['config OK', ...loaded.warnings.map(formatWarning), ''].join('\n'));
    return 0;
  }
  const { config } = loaded;
  const log = createLogger(config.log.level);
  for (const { event, key, message } of loaded.warnings)
    log.warn({ event, key }, `${key}: ${message}`);
  keepRunningOnStrayErrors(log);

  const gateway = createGateway({ config, log });
  const { publicPort, adminPort } = await gateway.listen();
  log.info(
    {
      event: 'listening',
      port: publicPort,
      admin_port: adminPort,
      upstream: withoutCredentials(config.upstream.url),
      // The store's kind and prefix only: its URL may carry a password.
      store: config.store.type === 'redis' ? `redis (${config.store.redis.prefix})` : 'memory',
      mode: config.throttle.mode,
    },
    'captcha-gateway is listening',
  );

  const reload = () => reloadFromFile(cli.configFile, gateway, log);
  process.on('SIGHUP', reload);
  const stopWatching = watchConfigFile(cli.configFile, reload, log);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      stopWatching();
      log.info({ event: 'draining', signal }, 'draining before exit');
      gateway.shutdown().then(
        () => {
          log.info({ event: 'stopped' }, 'stopped');
          resolve(0);
        },
        (error: unknown) => {
          log.error({ event: 'shutdown_failed', err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

function withoutCredentials(url: string): string {
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  return shown.href;
}

// A stray error in one request must not take every other request down with the process.
function keepRunningOnStrayErrors(log: Logger): void {
  process.on('uncaughtException', (error) => {
    log.error({ event: 'uncaught_exception', err: error }, 'uncaught exception');
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ event: 'unhandled_rejection', err: reason }, 'unhandled rejection');
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`captcha-gateway failed to start: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
