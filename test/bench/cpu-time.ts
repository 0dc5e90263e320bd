// A process's CPU time and run-queue wait, from /proc (Linux only; undefined elsewhere). CPU time
// per request is the figure a shared machine disturbs least: when another process takes the
// proxy's CPU, req/s drops but the CPU each request costs does not. The run-queue wait says how
// much the proxy was kept waiting for its CPU, i.e. how disturbed a run was; the CPU of threads
// other than the main one (V8's GC helpers, libuv's pool) tells whose work disturbed it.
import { readFileSync } from 'node:fs';

export interface CpuSample {
  /** User + system time of all the process's threads, microseconds. */
  readonly cpuUs: number;
  /** CPU time of the main thread alone (JavaScript runs there), nanoseconds. */
  readonly mainNs: number;
  /** Time the main thread spent runnable but waiting for a CPU, nanoseconds. */
  readonly waitNs: number;
}

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every mainstream Linux. */
const TICK_US = 10_000;

export function sampleCpu(pid: number | undefined): CpuSample | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces; field 3 first.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // fields 14 utime, 15 stime
    const schedstat = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
    // The thread group leader's own figures: on the CPU, then waiting for one (nanoseconds).
    const mainNs = Number(schedstat[0]);
    const waitNs = Number(schedstat[1]);
    if (![ticks, mainNs, waitNs].every(Number.isFinite)) return undefined;
    return { cpuUs: ticks * TICK_US, mainNs, waitNs };
  } catch {
    return undefined;
  }
}
