// vifctl's commands that ask the running daemon: `status` and `gc`. Output is
// a table for people or, with --json, one JSON document for scripts. A daemon
// that is not running is exit 3 with a message that says so.
import { parseArgs } from 'node:util';
import { DEFAULT_SOCKET_PATH, callControl } from '../api/control-client.js';
import { DaemonUnavailableError } from '../api/errors.js';
import type { VifStatus } from '../daemon/status-view.js';
import { VifdError } from '../model/errors.js';
import { formatTable } from './table.js';

export const STATUS_USAGE = 'usage: vifctl status [--socket PATH] [--json]';
export const GC_USAGE = 'usage: vifctl gc [--dry-run] [--socket PATH] [--json]';
const EXIT_NO_DAEMON = 3;
/** Hot-plug waits on libvirt and the guest; the daemon bounds each step itself. */
const CALL_TIMEOUT_MS = 120_000;

export interface DaemonCallOptions {
  readonly socket: string;
  readonly json: boolean;
  readonly dryRun: boolean;
}

export function parseDaemonCallArgs(argv: readonly string[], allowDryRun: boolean): DaemonCallOptions {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: { socket: { type: 'string' }, json: { type: 'boolean', default: false }, ...(allowDryRun ? { 'dry-run': { type: 'boolean', default: false } } : {}) },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return { socket: values.socket ?? DEFAULT_SOCKET_PATH, json: values.json, dryRun: (values as { 'dry-run'?: boolean })['dry-run'] === true };
}

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export async function callDaemon(options: Pick<DaemonCallOptions, 'socket' | 'json'>, method: string, params: Record<string, unknown>, io: Output): Promise<unknown> {
  try {
    return await callControl(options.socket, method, params, { connectTimeoutMs: 2000, timeoutMs: CALL_TIMEOUT_MS });
  } catch (error) {
    if (!(error instanceof VifdError)) throw error;
    if (options.json) io.out(JSON.stringify({ ok: false, code: error.code, reason: error.message }));
    else io.err(`vifctl ${method}: ${error.message}`);
    return error instanceof DaemonUnavailableError ? EXIT_NO_DAEMON : 1;
  }
}

function vifTable(vifs: readonly VifStatus[]): string {
  const dash = (value: string | number | null): string => (value === null ? '-' : String(value));
  return formatTable([
    ['DOMAIN', 'UUID', 'INDEX', 'NETWORK', 'DEVICE', 'MAC', 'BRIDGE', 'VLAN', 'MTU', 'KIND', 'STATE'],
    ...vifs.map((vif) => [vif.domain === null ? '-' : JSON.stringify(vif.domain), dash(vif.uuid), dash(vif.index), dash(vif.network),
      vif.device, dash(vif.mac), dash(vif.bridge), vif.vlan, dash(vif.mtu), vif.kind,
      vif.problems.length === 0 || vif.state === 'orphan' ? vif.state : `${vif.state}: ${vif.problems.join('; ')}`]),
  ]);
}

export async function runStatus(options: DaemonCallOptions, io: Output): Promise<number> {
  const result = await callDaemon(options, 'status', {}, io);
  if (typeof result === 'number') return result;
  const { vifs } = result as { vifs: VifStatus[] };
  if (options.json) io.out(JSON.stringify({ ok: true, vifs }));
  else io.out(vifs.length === 0 ? 'no VIFs' : vifTable(vifs));
  return 0;
}

export async function runGc(options: DaemonCallOptions, io: Output): Promise<number> {
  const result = await callDaemon(options, 'gc', { dryRun: options.dryRun }, io);
  if (typeof result === 'number') return result;
  const { orphans } = result as { orphans: VifStatus[] };
  if (options.json) io.out(JSON.stringify({ ok: true, dryRun: options.dryRun, orphans }));
  else if (orphans.length === 0) io.out('no orphans');
  else io.out(`${options.dryRun ? 'would remove' : 'removed'} ${orphans.length} orphan VIF(s):\n${vifTable(orphans)}`);
  return 0;
}
