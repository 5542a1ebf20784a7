// Runs the built vifctl and vifd as an operator would, with an environment of
// the test's choosing (tryRun passes the test's own).
import { spawn } from 'node:child_process';

export const VIFCTL = new URL('../../../src/cli/vifctl.js', import.meta.url).pathname;
export const VIFD = new URL('../../../src/cli/vifd.js', import.meta.url).pathname;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(argv: readonly string[], options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}): Promise<CliResult> {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('runCli: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 30_000, killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => { resolve({ code: signal === null ? code : null, stdout, stderr }); });
  });
}

export const vifctl = (args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> =>
  runCli([process.execPath, VIFCTL, ...args], env === undefined ? {} : { env });
