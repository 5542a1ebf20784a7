// OpenFlow rules through Open vSwitch's own ovs-ofctl (argv arrays only; the
// rules go on stdin as a flow file). Knows nothing of VIFs: a bridge, a
// cookie match, lines. vifd writes rules only with its own cookies.
import { spawn } from 'node:child_process';
import { HostOperationError } from './errors.js';

const OFCTL_TIMEOUT_MS = 10_000;

export interface FlowTables {
  /** Runs the flow-file lines (add/delete ...) on the bridge as one atomic bundle. */
  apply(bridge: string, lines: readonly string[]): Promise<void>;
  /** Deletes the rules whose cookie matches (cookie=VALUE/MASK); none is not an error. */
  remove(bridge: string, cookieMatch: string): Promise<void>;
  /** The rules whose cookie matches, as ovs-ofctl dump-flows prints them, one a line. */
  dump(bridge: string, cookieMatch: string): Promise<string[]>;
}

function runOfctl(program: string, args: readonly string[], input: string | null): Promise<string> {
  return new Promise((settle, reject) => {
    const child = spawn(program, args, { stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'], timeout: OFCTL_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const fail = (detail: string, cause?: unknown): void => {
      reject(new HostOperationError(`${program} ${args.join(' ')}: ${detail}`, { field: 'openflow' }, { cause }));
    };
    child.on('error', (error) => { fail(error.message, error); });
    child.on('close', (code, signal) => {
      if (code === 0) settle(stdout);
      else fail(signal === null ? `exit ${String(code)}: ${stderr.trim().replace(/\s*\n\s*/g, '; ')}` : `killed by ${signal}`);
    });
    if (input !== null && child.stdin !== null) child.stdin.end(input);
  });
}

/** The real tables, through ovs-ofctl on the running ovs-vswitchd (OVS_RUNDIR as ovs-ofctl reads it). */
export class OfctlFlowTables implements FlowTables {
  constructor(private readonly program = 'ovs-ofctl') {}

  async apply(bridge: string, lines: readonly string[]): Promise<void> {
    await runOfctl(this.program, ['--bundle', 'add-flows', bridge, '-'], lines.map((line) => `${line}\n`).join(''));
  }

  async remove(bridge: string, cookieMatch: string): Promise<void> {
    await runOfctl(this.program, ['del-flows', bridge, `cookie=${cookieMatch}`], null);
  }

  async dump(bridge: string, cookieMatch: string): Promise<string[]> {
    const text = await runOfctl(this.program, ['dump-flows', '--no-stats', bridge, `cookie=${cookieMatch}`], null);
    return text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('NXST_FLOW') && !line.startsWith('OFPST_FLOW'));
  }
}
