// Small helpers the benches share: timing one piece of work, percentiles, rounding,
// a process's memory.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Milliseconds `work` took, wall clock. */
export async function timedMs(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Nearest-rank percentile of `samples` (0 when there are none), rounded to 0.01. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0, 100);
}

/** `value` rounded to 1/`per` (per = 100: two decimals). */
export function round(value: number, per: number): number {
  return Math.round(value * per) / per;
}

/** A process's resident memory now (VmRSS) or at its peak (VmHWM), in MB (0 when /proc does not say). */
export function processRssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

/** USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux architecture vifd runs on. */
const CLOCK_TICKS_PER_S = 100;

/**
 * CPU seconds (user + system) a process has used so far (`own`), and those of
 * its reaped children (`children`); zeros when it is gone.
 */
export function processCpuTimesS(pid: number | 'self'): { own: number; children: number } {
  try {
    // The fields after the command name, which may itself hold spaces and parentheses.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return {
      own: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S,
      children: (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_S,
    };
  } catch {
    return { own: 0, children: 0 };
  }
}

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
export function processCpuS(pid: number): number {
  return processCpuTimesS(pid).own;
}
