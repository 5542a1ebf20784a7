// xenstore as the hook sees it: four operations, and one implementation that
// runs the xenstore-read/-write/-rm/-exists programs found on PATH, as Xen's
// own hotplug scripts do (tests put a simulated store's programs first on
// that PATH). argv arrays only: paths and values never pass through a shell.
import { spawn } from 'node:child_process';
import { InvalidInputError, VifdError, describeValue } from '../../model/errors.js';

/** A xenstore program failed or could not run; `detail` names the program and its error. */
export class XenstoreError extends VifdError {
  readonly code = 'xenstore';
}

export interface XenStore {
  /** The value, or null when the node does not exist. */
  read(path: string): Promise<string | null>;
  /** Several values at once (each null when absent): one program run when all exist. */
  readMany(paths: readonly string[]): Promise<(string | null)[]>;
  write(path: string, value: string): Promise<void>;
  /** Several writes in one program run. */
  writeAll(entries: readonly (readonly [path: string, value: string])[]): Promise<void>;
  /** Removes the node and its children; succeeds when it is already gone. */
  rm(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
}

/**
 * xenstore path characters (docs/misc/xenstore.txt); relative paths are under
 * dom0's home. A relative path may not start with "-": the programs would take
 * it for an option.
 */
const PATH = /^(\/[A-Za-z0-9_@-]+|[A-Za-z0-9_@][A-Za-z0-9_@-]*)(\/[A-Za-z0-9_@-]+)*$/;

export function assertXenstorePath(path: string): string {
  if (PATH.test(path)) return path;
  throw new InvalidInputError(`${describeValue(path)} is not a xenstore path`, { field: 'xenstore path', value: path });
}

/**
 * xenstore-read prints a value with `\\`, `\t`, `\n`, `\r` and `\ooo` escapes
 * for bytes outside printable ASCII; this undoes them, so a newline hidden in
 * a value reaches the validators as the newline it is.
 */
export function unescapeXenstoreValue(printed: string): string {
  return printed.replace(/\\(\\|t|n|r|[0-7]{3})/g, (_, code: string) => {
    switch (code) {
      case '\\': return '\\';
      case 't': return '\t';
      case 'n': return '\n';
      case 'r': return '\r';
      default: return String.fromCharCode(parseInt(code, 8));
    }
  });
}

/** The inverse: what xenstore-write takes on its command line to store `value` as it is. */
export function escapeXenstoreValue(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.charCodeAt(0);
    if (char === '\\') out += '\\\\';
    else if (char === '\t') out += '\\t';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += char;
  }
  return out;
}

interface ProgramResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const PROGRAM_TIMEOUT_MS = 10_000;

function runProgram(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<ProgramResult> {
  const [command, ...args] = argv;
  return new Promise((settle, reject) => {
    const child = spawn(command ?? '', args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: PROGRAM_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      reject(new XenstoreError(`cannot run ${command ?? ''}: ${error.message}`, {}, { cause: error }));
    });
    child.on('close', (code) => { settle({ code, stdout, stderr }); });
  });
}

const oneLine = (text: string): string => text.trim().replace(/\s*\n\s*/g, '; ');

/** The store through the xenstore-* programs on `env.PATH` (default: this process's environment). */
export class ProgramXenStore implements XenStore {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async read(path: string): Promise<string | null> {
    return (await this.readMany([path]))[0] ?? null;
  }

  /**
   * xenstore-read prints one escaped value per line (so a line is a value)
   * and stops at the first path it cannot read: the lines before it are
   * kept, that path is absent, and the rest is read again.
   */
  async readMany(paths: readonly string[]): Promise<(string | null)[]> {
    const values: (string | null)[] = [];
    while (values.length < paths.length) {
      const rest = paths.slice(values.length).map(assertXenstorePath);
      const result = await runProgram(['xenstore-read', ...rest], this.env);
      const lines = result.stdout.split('\n').slice(0, -1).slice(0, rest.length);
      values.push(...lines.map(unescapeXenstoreValue));
      // A failure: the path after the last line printed is absent (a broken store shows up as the missing key it leaves).
      // Nothing printed for several paths says nothing about which one failed: the first is asked alone.
      if (result.code !== 0 && values.length < paths.length) {
        values.push(lines.length === 0 && rest.length > 1 ? await this.#readOne(rest[0] ?? '') : null);
      }
    }
    return values;
  }

  async #readOne(path: string): Promise<string | null> {
    const result = await runProgram(['xenstore-read', path], this.env);
    return result.code === 0 ? unescapeXenstoreValue(result.stdout.replace(/\n$/, '')) : null;
  }

  async write(path: string, value: string): Promise<void> {
    await this.writeAll([[path, value]]);
  }

  async writeAll(entries: readonly (readonly [path: string, value: string])[]): Promise<void> {
    if (entries.length === 0) return;
    // xenstore-write unescapes its value arguments (Xen's xenstore_client.c), as xenstore-read escapes what it prints.
    const argv = entries.flatMap(([path, value]) => [assertXenstorePath(path), escapeXenstoreValue(value)]);
    const result = await runProgram(['xenstore-write', ...argv], this.env);
    if (result.code !== 0) {
      const paths = entries.map(([path]) => path).join(', ');
      throw new XenstoreError(`xenstore-write ${paths} failed: ${oneLine(result.stderr) || `exit ${String(result.code)}`}`);
    }
  }

  async rm(path: string): Promise<void> {
    const result = await runProgram(['xenstore-rm', assertXenstorePath(path)], this.env);
    if (result.code !== 0 && await this.exists(path)) {
      throw new XenstoreError(`xenstore-rm ${path} failed: ${oneLine(result.stderr) || `exit ${String(result.code)}`}`);
    }
  }

  async exists(path: string): Promise<boolean> {
    return (await runProgram(['xenstore-exists', assertXenstorePath(path)], this.env)).code === 0;
  }
}
