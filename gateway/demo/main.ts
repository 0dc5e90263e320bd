// `npm run demo`: starts the demo (shop, test captcha provider, gateway), prints the one URL to
// open and what to do there, and stops everything cleanly on Ctrl-C.
import { DEMO_LIMIT, DemoConfigError, startDemo, type RunningDemo } from './start.js';

async function main(): Promise<number> {
  const port = process.env.DEMO_PORT ?? 8080;
  const adminPort = process.env.DEMO_ADMIN_PORT ?? 9090;
  let demo: RunningDemo;
  try {
    demo = await startDemo({ port, adminPort });
  } catch (error) {
    process.stderr.write(explainStartFailure(error, port, adminPort));
    return 1;
  }
  keepRunningOnStrayErrors();
  process.stdout.write(instructions(demo));

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      // A second Ctrl-C while draining means "now".
      if (stopping) return resolve(1);
      stopping = true;
      process.stdout.write('\nStopping the demo…\n');
      demo.stop().then(
        () => resolve(0),
        (error: unknown) => {
          process.stderr.write(`The demo did not stop cleanly: ${(error as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function instructions(demo: RunningDemo): string {
  const rule = '─'.repeat(72);
  return `
${rule}
  captcha-gateway demo

  Open  ${demo.url}

  Reload it more than ${DEMO_LIMIT} times within a minute: the ${DEMO_LIMIT + 1}th load sends you to
  the captcha. Tick "I am not a robot (test captcha)" and continue: you are
  back in the shop, and the throttle is lifted.

  Behind the scenes:
    demo shop (upstream, not throttled)  ${demo.shopUrl}
    gateway metrics                      ${demo.adminUrl}metrics
    local TEST captcha provider          ${demo.provider.url}  (demo only, never production)

  The lines below are the gateway's JSON log, one per request.
  Stop with Ctrl-C.
${rule}

`;
}

function explainStartFailure(error: unknown, port: unknown, adminPort: unknown): string {
  if (error instanceof DemoConfigError) {
    return `The demo could not start; its config has problems:\n  ${error.problems.join('\n  ')}\nDEMO_PORT and DEMO_ADMIN_PORT must be port numbers, e.g. DEMO_PORT=8081 npm run demo\n`;
  }
  const failure = error as NodeJS.ErrnoException & { port?: number };
  if (failure.code === 'EADDRINUSE' || failure.code === 'EACCES') {
    const why = failure.code === 'EADDRINUSE' ? 'is already in use' : 'may not be used by you';
    if (failure.port !== undefined && String(failure.port) === String(adminPort)) {
      return `The demo could not start: admin port ${adminPort} on 127.0.0.1 ${why}.\nPick another one, e.g.:  DEMO_ADMIN_PORT=9091 npm run demo\n`;
    }
    return `The demo could not start: port ${failure.port ?? port} on 127.0.0.1 ${why}.\nPick another one, e.g.:  DEMO_PORT=8081 npm run demo\n`;
  }
  return `The demo could not start: ${(error as Error).message ?? String(error)}\n`;
}

// One bad request must not end the demo while someone is clicking through it.
function keepRunningOnStrayErrors(): void {
  // A closed pipe (`npm run demo | head`) is no reason to report anything.
  process.stdout.on('error', () => undefined);
  process.on('uncaughtException', (error) => {
    process.stderr.write(`demo: uncaught exception: ${error.stack ?? error.message}\n`);
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`demo: unhandled rejection: ${String(reason)}\n`);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`The demo failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
