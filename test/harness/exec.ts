// Every external program the harness runs goes through here: argv arrays only
// (design invariant 8 applies to test code as well), stderr kept for errors.
import { spawn } from 'node:child_process';

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const detail = result.stderr.trim() || result.stdout.trim() || '(no output)';
    super(`command failed (exit ${String(result.code)}): ${argv.join(' ')}: ${detail}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Runs argv and resolves with its output whatever the exit code. */
export function tryRun(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('tryRun: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code: signal === null ? code : null, stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr });
    });
    if (child.stdin !== null) {
      // A program may exit without reading its input; its exit code tells
      // what happened, so EPIPE here is not an error of its own.
      child.stdin.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') reject(error);
      });
      child.stdin.end(options.input);
    }
  });
}

/** Runs argv and throws a CommandError naming the command when it fails. */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await tryRun(argv, options);
  if (result.code !== 0) throw new CommandError(argv, result);
  return result.stdout;
}

export async function commandExists(name: string): Promise<boolean> {
  const result = await tryRun(['sh', '-c', 'command -v "$1"', 'sh', name]);
  return result.code === 0;
}
