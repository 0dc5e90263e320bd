// Starts the bench's child processes, each pinned to its own CPU when `taskset` exists, and makes
// sure none outlives the bench: every child is killed when the bench exits, fails or is interrupted.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where each kind of process runs: the proxy under test alone, the rest on the other CPU(s). */
export interface Placement {
  /** `taskset -c` CPU list, or undefined when processes are not pinned. */
  readonly proxy: string | undefined;
  readonly upstream: string | undefined;
  readonly load: string | undefined;
  /** One line for the report. */
  readonly description: string;
}

const live = new Set<ChildProcess>();
let guarded = false;

/** Kills every child still running; safe to call more than once, and from an 'exit' handler. */
export function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

function guardExit(): void {
  if (guarded) return;
  guarded = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** This process's open-file limits (children inherit them), from /proc; 1024 when unknown. */
export function openFileLimits(): { soft: number; hard: number } {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
    if (match) {
      const value = (field: string) => (field === 'unlimited' ? 1_048_576 : Number(field));
      return { soft: value(match[1]!), hard: value(match[2]!) };
    }
  } catch {
    // not Linux
  }
  return { soft: 1024, hard: 1024 };
}

/** The first executable `name` on PATH, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function choosePlacement(): Placement {
  const cpus = availableParallelism();
  if (onPath('taskset') === undefined || cpus < 2) {
    return {
      proxy: undefined,
      upstream: undefined,
      load: undefined,
      description: `not pinned (${cpus < 2 ? 'one CPU' : 'no taskset on PATH'})`,
    };
  }
  if (cpus === 2) {
    return {
      proxy: '0',
      upstream: '1',
      load: '1',
      description: 'proxy under test alone on CPU 0; origin and load generator on CPU 1 (taskset)',
    };
  }
  return {
    proxy: '0',
    upstream: '1',
    load: '2',
    description: 'proxy under test on CPU 0, origin on CPU 1, load generator on CPU 2 (taskset)',
  };
}

function pinnedCommand(
  cpu: string | undefined,
  command: string,
  args: string[],
): [string, string[]] {
  // taskset execs the command, so the pid we hold is the command's own.
  return cpu === undefined ? [command, args] : ['taskset', ['-c', cpu, command, ...args]];
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Absolute path of a script in test/bench. */
export function benchScript(relative: string): string {
  return path.join(here, relative);
}

export interface NodeChildOptions {
  readonly cpu: string | undefined;
  /** Extra flags for node itself (e.g. --expose-gc). */
  readonly nodeFlags?: readonly string[];
  /** Passed to the script as one JSON argument. */
  readonly input?: unknown;
  /**
   * The child's open-file limit (soft and hard), set with prlimit(1); at most this process's hard
   * limit, which needs no privilege. Ignored where prlimit is missing.
   */
  readonly openFiles?: number;
}

function spawnNode(script: string, options: NodeChildOptions): ChildProcess {
  guardExit();
  const args = [
    ...(options.nodeFlags ?? []),
    '--import',
    'tsx',
    benchScript(script),
    JSON.stringify(options.input ?? {}),
  ];
  const [pinned, pinnedArgs] = pinnedCommand(options.cpu, process.execPath, args);
  const prlimit = options.openFiles === undefined ? undefined : onPath('prlimit');
  // prlimit execs the command, as taskset does: the pid stays the server's own.
  const [command, argv] =
    prlimit === undefined
      ? [pinned, pinnedArgs]
      : [prlimit, [`--nofile=${options.openFiles}:${options.openFiles}`, pinned, ...pinnedArgs]];
  // stdin stays a pipe: the child exits when it closes, so even a SIGKILLed bench leaves no child.
  const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export interface Server {
  readonly name: string;
  readonly port: number;
  /** The server's own process id (taskset execs it, so it is the child's pid). */
  readonly pid: number | undefined;
  /** Starts the child's CPU profiler; the profile is written to `file` when the child stops. */
  startProfile(file: string): void;
  /**
   * SIGSTOP: the server takes no CPU at all (no timers, no idle-time GC) while another server on
   * its CPU is measured. `resume` (SIGCONT) undoes it; stop() resumes first.
   */
  pause(): void;
  resume(): void;
  /** Asks the child to exit (writing its profile, if any), then kills it after 10 s. */
  stop(): Promise<void>;
  /**
   * Sends a command line (see servers/child.ts) and resolves with the JSON line it answers, or
   * undefined when the server does not answer commands (nginx) or not within 10 s.
   */
  ask(command: string): Promise<unknown>;
}

/** What a server child prints once, as its first stdout line. */
type Announcement = { ready: true; port: number } | { ready: false; error: string };

/** Starts a server child and waits for its announcement; rejects with the child's own reason. */
export function startServer(
  name: string,
  script: string,
  options: NodeChildOptions,
): Promise<Server> {
  const child = spawnNode(script, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`${name} did not start within 30 s`), 30_000);
    const fail = (reason: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(reason));
    };
    child.once('exit', (code, signal) =>
      fail(`${name} exited (${signal ?? code}) before it was ready`),
    );
    const waiting: ((value: unknown) => void)[] = [];
    let announced = false;
    jsonLines(child, (line) => {
      if (announced) {
        waiting.shift()?.(line);
        return;
      }
      announced = true;
      const announcement = line as Announcement;
      if (!announcement.ready) return fail(announcement.error);
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.once('exit', () => {
        for (const answer of waiting.splice(0)) answer(undefined);
      });
      resolve({
        name,
        port: announcement.port,
        pid: child.pid,
        startProfile: (file) => child.stdin?.write(`profile ${file}\n`),
        pause: () => child.kill('SIGSTOP'),
        resume: () => child.kill('SIGCONT'),
        stop: () => {
          child.kill('SIGCONT');
          return stopChild(child);
        },
        ask: (command) =>
          new Promise((answer) => {
            if (child.exitCode !== null || child.signalCode !== null) return answer(undefined);
            const timeout = setTimeout(() => {
              const at = waiting.indexOf(done);
              if (at !== -1) waiting.splice(at, 1);
              answer(undefined);
            }, 10_000);
            const done = (value: unknown) => {
              clearTimeout(timeout);
              answer(value);
            };
            waiting.push(done);
            child.stdin?.write(`${command}\n`);
          }),
      });
    });
  });
}

/** A free TCP port on 127.0.0.1 (for a server that cannot listen on port 0 and tell, as nginx). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts a foreign server (nginx) pinned to `cpu`, and resolves once `port` accepts connections;
 * rejects (and kills it) when it exits first or is not up within 30 s.
 */
export function startForeignServer(
  name: string,
  command: string,
  args: string[],
  cpu: string | undefined,
  port: number,
): Promise<Server> {
  guardExit();
  const [pinned, pinnedArgs] = pinnedCommand(cpu, command, args);
  // Node children exit when their stdin closes; a foreign server does not read it, so where
  // setpriv exists the kernel kills it when the bench dies, even by SIGKILL (PR_SET_PDEATHSIG
  // survives the exec of taskset and of the server).
  const setpriv = onPath('setpriv');
  const [bin, argv] =
    setpriv === undefined
      ? [pinned, pinnedArgs]
      : [setpriv, ['--pdeathsig', 'SIGKILL', pinned, ...pinnedArgs]];
  const child = spawn(bin, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const server: Server = {
    name,
    port,
    pid: child.pid,
    startProfile: () => {},
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: () => {
      child.kill('SIGCONT');
      return stopChild(child);
    },
    ask: () => Promise.resolve(undefined),
  };
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 30_000;
    const fail = (reason: string) => {
      child.kill('SIGKILL');
      reject(new Error(`${name}: ${reason}${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`));
    };
    child.once('error', (error) => fail(error.message));
    const attempt = () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return fail(`exited (${child.signalCode ?? child.exitCode}) before it was ready`);
      }
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(server);
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) fail('not listening within 30 s');
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Runs a child script to its end and returns the JSON line it printed last. */
export function runNodeJob<T>(
  script: string,
  options: NodeChildOptions,
  timeoutMs: number,
): Promise<T> {
  const child = spawnNode(script, options);
  child.stdin?.end();
  return collect(child, timeoutMs).then(({ stdout }) => lastJsonLine<T>(stdout, script));
}

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
}

/** Runs any command (the load generator) on `cpu`, killed if it outlives `timeoutMs`. */
export function runCommand(
  cpu: string | undefined,
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<Finished> {
  guardExit();
  const [bin, argv] = pinnedCommand(cpu, command, args);
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return collect(child, timeoutMs);
}

function collect(child: ChildProcess, timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') reject(new Error(`killed after ${timeoutMs} ms`));
      else resolve({ code, stdout });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Calls `onLine` with every stdout line of the child; a line that is not JSON is an error. */
function jsonLines(child: ChildProcess, onLine: (value: unknown) => void): void {
  let buffered = '';
  const stdout = child.stdout;
  if (!stdout) return;
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      try {
        onLine(JSON.parse(line));
      } catch {
        onLine({ ready: false, error: `unexpected output: ${line.slice(0, 300)}` });
      }
    }
  });
}

/** The last line of `stdout` that parses as JSON. */
export function lastJsonLine<T>(stdout: string, source: string): T {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line) as T;
    } catch {
      // not the result line
    }
  }
  throw new Error(`${source} printed no result: ${stdout.slice(-500)}`);
}
