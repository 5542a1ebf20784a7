// `vifctl status [DOMAIN] [--state STATE[,STATE...]]`: every VIF the daemon
// knows, narrowed to one VM (name or UUID) and to some states. The daemon
// answers with all of them; the narrowing is done here, in pure code.
import { parseArgs } from 'node:util';
import { VIF_STATES } from '../api/protocol.js';
import type { PfStatusRow, VfStatusRow, VifState, VifStatusRow, XapiStatus } from '../api/protocol.js';
import { DAEMON_OPTIONS, callDaemon, daemonCallOptions, vifTable } from './daemon-calls.js';
import type { DaemonCallOptions, Output } from './daemon-calls.js';
import { formatTable, tableName } from './table.js';

export interface StatusFilter {
  /** A VM name, or a UUID in any letter case. */
  readonly domain?: string;
  /** Empty: every state. */
  readonly states: readonly VifState[];
}

export interface StatusOptions extends DaemonCallOptions {
  readonly filter: StatusFilter;
}

export function parseStates(texts: readonly string[]): VifState[] {
  const states = texts.flatMap((text) => text.split(',')).map((state) => state.trim());
  for (const state of states) {
    if (!(VIF_STATES as readonly string[]).includes(state)) throw new Error(`--state ${JSON.stringify(state)} is not one of ${VIF_STATES.join(', ')}`);
  }
  return [...new Set(states as VifState[])];
}

export function parseStatusArgs(argv: readonly string[]): StatusOptions {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: { ...DAEMON_OPTIONS, state: { type: 'string', multiple: true } },
  });
  if (positionals.length > 1) throw new Error(`unexpected argument ${JSON.stringify(positionals[1])} (one DOMAIN at most)`);
  const [domain] = positionals;
  const states = parseStates(values.state ?? []);
  return { ...daemonCallOptions(values), filter: domain === undefined ? { states } : { domain, states } };
}

export function filterVifs(vifs: readonly VifStatusRow[], filter: StatusFilter): VifStatusRow[] {
  const wanted = filter.domain;
  const uuid = wanted?.toLowerCase();
  return vifs.filter((vif) =>
    (wanted === undefined || vif.domain === wanted || vif.uuid?.toLowerCase() === uuid)
    && (filter.states.length === 0 || filter.states.includes(vif.state)));
}

/** The SR-IOV pools, one row per VF: where it is, its state, and whose it is or why not. */
export function vfTable(vfs: readonly VfStatusRow[]): string {
  return formatTable([
    ['NETWORK', 'PF', 'VF', 'ADDRESS', 'STATE', 'OWNER'],
    ...vfs.map((vf) => [vf.network ?? '-', vf.pfName, String(vf.index), vf.address, `${vf.state}${vf.present === false ? ' (gone)' : ''}`,
      vf.owner === undefined ? vf.reason ?? '-' : `${vf.owner.uuid}/${vf.owner.index}`]),
  ]);
}

/** Each SR-IOV network's PFs and their link: a VF change on a PF that is down is accepted and not applied. */
export function pfTable(pfs: readonly PfStatusRow[]): string {
  return formatTable([
    ['NETWORK', 'PF', 'ADDRESS', 'LINK', 'OPERSTATE', 'CARRIER'],
    ...pfs.map((pf) => [pf.network, pf.pfName, pf.pf, pf.up ? 'up' : 'DOWN', pf.operstate, pf.carrier === null ? '-' : pf.carrier ? 'yes' : 'no']),
  ]);
}

/** "no VIFs", or what was asked for that matched nothing. */
export function emptyMessage(filter: StatusFilter): string {
  const parts = [filter.domain === undefined ? '' : ` of VM ${JSON.stringify(filter.domain)}`,
    filter.states.length === 0 ? '' : ` in state ${filter.states.join(' or ')}`];
  return `no VIFs${parts.join('')}`;
}

/** XAPI hosts: XAPI's side of each XAPI VIF, then each XAPI VM's count, limit, XAPI's allowed devices and vifd's block. */
export function xapiTables(xapi: XapiStatus, vifs: readonly VifStatusRow[]): string {
  const list = (items: readonly string[] | null): string => (items === null ? '-' : items.length === 0 ? 'none' : items.join(','));
  const xapiVifs = vifs.flatMap((vif) => (vif.xapi === undefined ? [] : [[vif.domain === null ? '-' : tableName(vif.domain), vif.device,
    tableName(vif.xapi.network), vif.vlan, vif.mac ?? '-', vif.xapi.currentlyAttached ? 'yes' : 'no', vif.source ?? '-']]));
  const vms = xapi.vms.map((vm) => [tableName(vm.name), vm.uuid, String(vm.vifCount), vm.limit === null ? '-' : `${vm.limit} (${vm.limitSource ?? '-'})`,
    list(vm.allowedVifDevices), vm.blocked ?? '-']);
  const parts = [`XAPI (${xapi.state}, host ${xapi.hostUuid})`];
  if (xapiVifs.length > 0) parts.push(formatTable([['DOMAIN', 'DEVICE', 'XAPI NETWORK', 'VLAN', 'MAC', 'ATTACHED', 'SOURCE'], ...xapiVifs]));
  if (vms.length > 0) parts.push(formatTable([['VM', 'UUID', 'VIFS', 'LIMIT', 'XAPI ALLOWED DEVICES', 'BLOCKED BY VIFD'], ...vms]));
  for (const dup of xapi.duplicateMacs) parts.push(`MAC ${dup.mac} is used ${dup.users.length} times: ${dup.users.map((user) => tableName(user.vmName)).join(', ')} (the first keeps it)`);
  return parts.join('\n\n');
}

export async function runStatus(options: StatusOptions, io: Output): Promise<number> {
  const result = await callDaemon(options, 'status', {}, io);
  if (typeof result === 'number') return result;
  const vifs = filterVifs(result.vifs, options.filter);
  // Every VF of the SR-IOV pools, held or not, unless the rows are filtered by VM or state.
  const unfiltered = options.filter.domain === undefined && options.filter.states.length === 0;
  const vfs = unfiltered ? result.vfs : undefined;
  const pfs = unfiltered ? result.pfs : undefined;
  if (options.json) io.out(JSON.stringify({ ok: true, vifs, ...(result.xapi === undefined ? {} : { xapi: result.xapi }), ...(vfs === undefined ? {} : { vfs }), ...(pfs === undefined ? {} : { pfs }) }));
  else {
    const pools = [vfs === undefined || vfs.length === 0 ? '' : `\n\n${vfTable(vfs)}`, pfs === undefined || pfs.length === 0 ? '' : `\n\n${pfTable(pfs)}`].join('');
    io.out(`${vifs.length === 0 ? emptyMessage(options.filter) : vifTable(vifs)}${pools}`);
    if (result.xapi !== undefined) io.out(`\n${xapiTables(result.xapi, vifs)}`);
  }
  return 0;
}
