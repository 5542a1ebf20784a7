// vifctl's commands that ask the running daemon share this: the control
// socket (--socket, else control_socket from the config file), one call, and
// errors as text or, with --json, one JSON document. A daemon that is not
// running is exit 3 with a message that says so. `gc` lives here too.
import { parseArgs } from 'node:util';
import { callMethod } from '../api/control-client.js';
import { DaemonUnavailableError } from '../api/errors.js';
import type { ControlMethod, ParamsOf, ResultOf, VifStatusRow } from '../api/protocol.js';
import { VifdError } from '../model/errors.js';
import { controlSocketOf } from './client-config.js';
import { formatTable, tableName } from './table.js';

const EXIT_NO_DAEMON = 3;
/** Hot-plug waits on libvirt and the guest; the daemon bounds each step itself. */
const CALL_TIMEOUT_MS = 120_000;

/** Options every daemon command takes. */
export const DAEMON_OPTIONS = {
  socket: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean', default: false },
} as const;

export interface DaemonCallOptions {
  readonly socket?: string;
  readonly config?: string;
  readonly json: boolean;
}

export interface GcOptions extends DaemonCallOptions {
  readonly dryRun: boolean;
}

export interface Output {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Shows that vifctl is waiting (a TTY only); returns the function that erases it. */
  readonly progress?: (label: string) => () => void;
}

/** The common options as parsed, without the undefined ones (exactOptionalPropertyTypes-safe). */
export function daemonCallOptions(values: { socket?: string | undefined; config?: string | undefined; json?: boolean | undefined }): DaemonCallOptions {
  return {
    json: values.json === true,
    ...(values.socket === undefined ? {} : { socket: values.socket }),
    ...(values.config === undefined ? {} : { config: values.config }),
  };
}

export function parseGcArgs(argv: readonly string[]): GcOptions {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: { ...DAEMON_OPTIONS, 'dry-run': { type: 'boolean', default: false } },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return { ...daemonCallOptions(values), dryRun: values['dry-run'] };
}

function report(options: DaemonCallOptions, method: string, error: VifdError, io: Output): void {
  if (options.json) io.out(JSON.stringify({ ok: false, code: error.code, reason: error.message }));
  else io.err(`vifctl ${method}: ${error.message}`);
}

/** The call's result, or the exit code after the failure was reported. */
export async function callDaemon<M extends ControlMethod>(options: DaemonCallOptions, method: M, params: ParamsOf<M>, io: Output): Promise<ResultOf<M> | number> {
  let socket: string;
  try {
    socket = controlSocketOf(options);
  } catch (error) {
    if (!(error instanceof VifdError)) throw error;
    report(options, method, error, io);
    return 1;
  }
  try {
    return await callMethod(socket, method, params, { connectTimeoutMs: 2000, timeoutMs: CALL_TIMEOUT_MS });
  } catch (error) {
    if (!(error instanceof VifdError)) throw error;
    report(options, method, error, io);
    return error instanceof DaemonUnavailableError ? EXIT_NO_DAEMON : 1;
  }
}

export function vifTable(vifs: readonly VifStatusRow[]): string {
  const dash = (value: string | number | null): string => (value === null ? '-' : String(value));
  return formatTable([
    ['DOMAIN', 'UUID', 'INDEX', 'NETWORK', 'DEVICE', 'MAC', 'BRIDGE', 'VLAN', 'MTU', 'KIND', 'STATE'],
    ...vifs.map((vif) => [vif.domain === null ? '-' : tableName(vif.domain), dash(vif.uuid), dash(vif.index), dash(vif.network),
      vif.device, dash(vif.mac), dash(vif.bridge), vif.vlan, dash(vif.mtu), vif.kind,
      vif.problems.length === 0 || vif.state === 'orphan' ? vif.state : `${vif.state}: ${vif.problems.join('; ')}`]),
  ]);
}

export async function runGc(options: GcOptions, io: Output): Promise<number> {
  const result = await callDaemon(options, 'gc', { dryRun: options.dryRun }, io);
  if (typeof result === 'number') return result;
  const { orphans } = result;
  if (options.json) io.out(JSON.stringify({ ok: true, dryRun: options.dryRun, orphans }));
  else if (orphans.length === 0) io.out('no orphans');
  else io.out(`${options.dryRun ? 'would remove' : 'removed'} ${orphans.length} orphan VIF(s):\n${vifTable(orphans)}`);
  return 0;
}
