// `npm run bench`: starts a real origin (nginx, else node:http), a bare http-proxy baseline, the
// gateway on each store, the fastify and koa peers and a bare flood floor, each in a process of
// its own, drives them in interleaved rounds with wrk (or autocannon), runs the memory figures and
// the limiter micro-benchmark, and prints one markdown report with every ratio to the baseline of
// the same round and each target MET / NOT MET. A measurement, not a test: it exits 0 whatever the
// figures. `--save` also writes the report to test/bench/results/<date>.md; `--profile[=DIR]`
// writes and summarises CPU profiles instead. Progress goes to stderr, the report to stdout.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { progress } from './fixtures.js';
import { chooseLoadGenerator } from './load.js';
import { measure } from './measure.js';
import { parseOptions } from './options.js';
import { benchScript, choosePlacement, killAll } from './processes.js';
import { profile } from './profile-run.js';
import { deleteBenchKeys } from './redis-cleanup.js';

const root = path.resolve(benchScript('.'), '../..');

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (!existsSync(path.join(root, 'dist/gateway/server.js'))) {
    progress('dist/gateway/server.js is missing: run `npm run build` (npm run bench does) first');
    return 1;
  }
  const placement = choosePlacement();
  const load = await chooseLoadGenerator(placement.load);
  try {
    const report =
      options.profileDir === undefined
        ? await measure(options, placement, load)
        : await profile(options, placement, load, root);
    process.stdout.write(`${report}\n`);
    if (options.save && options.profileDir === undefined) {
      const dir = path.join(root, 'test/bench/results');
      mkdirSync(dir, { recursive: true });
      const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');
      const file = path.join(dir, `${stamp}${options.quick ? '-quick' : ''}.md`);
      writeFileSync(file, `${report}\n`);
      progress(`report saved to ${path.relative(root, file)}`);
    }
    return 0;
  } finally {
    load.close();
    killAll();
    await deleteBenchKeys(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    killAll();
    process.exit(1);
  },
);
