// The libvirt hook shim (hooks/qemu.d/vifd) as tests and benches run it:
// rendered the way scripts/install.sh renders it, but pointing at this
// checkout's node and dist/, then executed directly (its own #!/bin/sh) with
// argv and the domain XML on stdin, as libvirtd runs it.
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** The checkout's root: this file runs from dist/test/harness/. */
const CHECKOUT = new URL('../../../', import.meta.url).pathname.replace(/\/$/, '');
const SHIM_SOURCE = join(CHECKOUT, 'hooks', 'qemu.d', 'vifd');

/** Writes the shim into `dir` with @NODE@ and @LIBDIR@ filled in; returns its path. */
export function renderHookShim(dir: string): string {
  const text = readFileSync(SHIM_SOURCE, 'utf8').replaceAll('@NODE@', process.execPath).replaceAll('@LIBDIR@', CHECKOUT);
  const unknown = /@[A-Z_]+@/.exec(text);
  if (unknown !== null) throw new Error(`${SHIM_SOURCE} has a placeholder the harness does not fill in: ${unknown[0]}`);
  const path = join(dir, 'vifd-hook');
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

export interface HookShimRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to exit, as libvirtd waits for it. */
  readonly ms: number;
}

/** Runs the shim as `SHIM DOMAIN OP SUBOP -` with `input` on stdin and only `env` (plus PATH) in its environment. */
export function runHookShim(shim: string, args: { domain: string; op: string; subop: string }, input: string | Buffer, env: Record<string, string> = {}): Promise<HookShimRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(shim, [args.domain, args.op, args.subop, '-'], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code, stdout, stderr, ms: performance.now() - started }); });
    // A refusal may come before all of a large XML was read; the exit code says what happened.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => { if (error.code !== 'EPIPE') reject(error); });
    child.stdin.end(input);
  });
}
