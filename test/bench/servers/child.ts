// What every bench server child shares: its input, its one announcement line, a CPU profile, its
// longest event-loop pause and its memory on request, and the rule that it exits when the bench
// asks (SIGTERM) or when the bench is gone.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Server } from 'node:http';
import { Session } from 'node:inspector';
import type { Server as NetServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The JSON argument the bench passed to this child. */
export function childInput<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

/** Listens on 127.0.0.1, port 0, and tells the bench which port it got. */
export function serve(server: Server | NetServer): void {
  exitWithParent();
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    announce(typeof address === 'object' && address !== null ? address.port : 0);
  });
}

/** The one line the bench waits for: this server is ready on `port`. */
export function announce(port: number): void {
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
}

/** Tells the bench this server cannot run here (the bench reports why) and exits. */
export function refuse(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stdout.write(`${JSON.stringify({ ready: false, error: message })}\n`);
  process.exit(1);
}

/** Where the running CPU profile goes; undefined while none runs. */
let profileFile: string | undefined;
const session = new Session();

/** The event loop's sampling interval, ms: every delay the histogram holds includes it once. */
const LOOP_RESOLUTION_MS = 10;
/** The event loop's delays since the last `loop-delay` command. */
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

/** What the `loop-delay` command answers; the histogram's figures are in nanoseconds. */
export interface LoopDelayReply {
  readonly loopDelay: { readonly maxMs: number; readonly p99Ms: number };
}

/** What the `memory` command answers (after full GCs when the child runs with --expose-gc). */
export interface MemoryReply {
  readonly memory: NodeJS.MemoryUsage & { readonly collected: boolean };
}

function reply(value: LoopDelayReply | MemoryReply): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * Commands arrive as lines on stdin, answers (a JSON line) on stdout:
 * - `loop-delay`: the longest event-loop pause (and its p99) since the previous `loop-delay`,
 *   beyond the 10 ms sampling interval,
 *   which starts the next measuring period; the bench sends one before and one after each run.
 * - `memory`: process.memoryUsage() after full GCs (when gc is exposed).
 * - `profile <file>` starts the V8 CPU profiler (after the bench's warm-up, so start-up and JIT
 *   compilation stay out of it); SIGTERM then writes the profile to <file> before the process
 *   exits. Unlike --cpu-prof, only the main thread is profiled. No answer.
 */
function command(line: string): void {
  const [verb, file] = line.split(' ');
  if (verb === 'loop-delay') {
    // The histogram holds the time between samples: what exceeds the interval is the pause.
    const pause = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
    const maxMs = loopDelay.count === 0 ? 0 : pause(loopDelay.max);
    const p99Ms = loopDelay.count === 0 ? 0 : pause(loopDelay.percentile(99));
    loopDelay.reset();
    reply({ loopDelay: { maxMs, p99Ms } });
    return;
  }
  if (verb === 'memory') {
    const gc = globalThis.gc;
    // Several passes: one full GC can leave work (weak callbacks, finalisation) for the next.
    if (gc) for (let i = 0; i < 4; i += 1) gc();
    reply({ memory: { ...process.memoryUsage(), collected: gc !== undefined } });
    return;
  }
  if (verb !== 'profile' || file === undefined || profileFile !== undefined) return;
  profileFile = file;
  session.connect();
  session.post('Profiler.enable', () =>
    session.post('Profiler.setSamplingInterval', { interval: 250 }, () =>
      session.post('Profiler.start'),
    ),
  );
}

function exit(): void {
  const file = profileFile;
  if (file === undefined) process.exit(0);
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(file, JSON.stringify(result.profile));
    process.exit(error ? 1 : 0);
  });
}

export function exitWithParent(): void {
  loopDelay.enable();
  process.on('SIGTERM', exit);
  // stdin is a pipe from the bench: its end means the bench is gone, however it died.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  let pending = '';
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n')) {
      command(pending.slice(0, end));
      pending = pending.slice(end + 1);
    }
  });
}

/**
 * The URL of a module of the build (`dist/`), so children run exactly what `npm start` runs.
 * Callers type the import with `typeof import('<the source module>')`.
 */
export function distModule(relative: string): string {
  const url = new URL(`../../../dist/${relative}`, import.meta.url);
  // Validates the path shape early; the import itself reports a missing build.
  fileURLToPath(url);
  return url.href;
}
