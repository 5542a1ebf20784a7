// What vifd asks XAPI to refuse (pure): a VM with more VIFs than its limit,
// or with a MAC another VM of the pool already uses, gets blocked_operations
// for the operations that would put it on a host (start, start_on, resume,
// pool_migrate) with one line naming the VM and the count, which Xen
// Orchestra and xe show. vifd marks its own entries ("vifd: ...") and only
// ever changes or removes those: an operator's own block is left alone.
import { VifdError } from '../../model/errors.js';
import { resolveVifLimit } from '../../model/limit.js';
import type { VifLimit } from '../../model/limit.js';
import type { RecordLookup } from './fields.js';
import { VIF_LIMIT_FIELD, VIF_LIMIT_KEY, guestVms, vifsOf } from './vms.js';
import type { XapiVif, XapiVm } from './vms.js';

export const GUARDED_OPERATIONS = ['start', 'start_on', 'resume', 'pool_migrate'] as const;
/** The start of every blocked_operations reason vifd writes: what it may later clear. */
export const REASON_MARK = 'vifd: ';

export interface GuardSettings {
  /** The XAPI VMs' default limit (config xapi.vif_limit, else vif_limit.default). */
  readonly defaultLimit: number;
  /** The host's cap on a VM's override (vif_limit.max). */
  readonly maxLimit: number;
}

export interface MacUser {
  readonly vmUuid: string;
  readonly vmName: string;
  readonly vifUuid: string;
  readonly device: number | null;
}

/** A MAC more than one VIF of the pool has; `users[0]` keeps it, the VMs of the others are blocked. */
export interface DuplicateMac {
  readonly mac: string;
  readonly users: readonly MacUser[];
}

export interface VmGuard {
  readonly uuid: string;
  readonly name: string;
  readonly ref: string;
  /** Distinct VIF devices XAPI holds for the VM. */
  readonly vifCount: number;
  /** null when the VM's override cannot be read (limitProblem says why). */
  readonly limit: VifLimit | null;
  readonly limitProblem: string | null;
  /** MACs of this VM that another VM keeps (or that it has twice). */
  readonly duplicateMacs: readonly string[];
  /** The blocked_operations reason vifd wants on it, or null: nothing blocked by vifd. */
  readonly reason: string | null;
}

const isRunning = (vm: XapiVm): boolean => vm.powerState === 'Running' || vm.powerState === 'Paused';

/** Every MAC used by more than one VIF of the pool; the VIF of a running VM keeps it, then the lowest VM uuid. */
export function duplicateMacs(records: RecordLookup, vms: readonly XapiVm[]): DuplicateMac[] {
  const byMac = new Map<string, { vm: XapiVm; vif: XapiVif }[]>();
  for (const vm of vms) {
    for (const vif of vifsOf(records, vm)) {
      if (vif.mac === '') continue;
      byMac.set(vif.mac, [...byMac.get(vif.mac) ?? [], { vm, vif }]);
    }
  }
  const rank = (a: { vm: XapiVm; vif: XapiVif }, b: { vm: XapiVm; vif: XapiVif }): number =>
    Number(isRunning(b.vm)) - Number(isRunning(a.vm)) || a.vm.uuid.localeCompare(b.vm.uuid) || (a.vif.device ?? -1) - (b.vif.device ?? -1);
  return [...byMac].filter(([, users]) => users.length > 1).sort(([a], [b]) => a.localeCompare(b)).map(([mac, users]) => ({
    mac, users: [...users].sort(rank).map(({ vm, vif }) => ({ vmUuid: vm.uuid, vmName: vm.name, vifUuid: vif.uuid, device: vif.device })),
  }));
}

const LIMIT_SOURCE: Record<VifLimit['source'], string> = { vm: VIF_LIMIT_FIELD, host: 'host default', builtin: "vifd's default" };

const quoted = (vm: { readonly name: string; readonly uuid: string }): string => JSON.stringify(vm.name === '' ? vm.uuid : vm.name);

export function limitOf(vm: XapiVm, settings: GuardSettings): { limit: VifLimit | null; problem: string | null } {
  try {
    return { limit: resolveVifLimit({ hostDefault: settings.defaultLimit, hostMax: settings.maxLimit, vmOverride: vm.otherConfig[VIF_LIMIT_KEY], overrideField: VIF_LIMIT_FIELD }), problem: null };
  } catch (error) {
    if (!(error instanceof VifdError)) throw error;
    return { limit: null, problem: `${VIF_LIMIT_FIELD}: ${error.detail}` };
  }
}

/** The VM's MACs another VM keeps, with that VM's name for the reason. */
function macsTaken(vm: XapiVm, duplicates: readonly DuplicateMac[]): { mac: string; keeper: MacUser }[] {
  return duplicates.flatMap(({ mac, users }) => {
    const [keeper, ...others] = users;
    return keeper !== undefined && others.some((user) => user.vmUuid === vm.uuid) ? [{ mac, keeper }] : [];
  });
}

export function guardOf(records: RecordLookup, vm: XapiVm, duplicates: readonly DuplicateMac[], settings: GuardSettings): VmGuard {
  const vifCount = new Set(vifsOf(records, vm).map((vif) => vif.device ?? vif.uuid)).size;
  const { limit, problem } = limitOf(vm, settings);
  const taken = macsTaken(vm, duplicates);
  const reasons: string[] = [];
  if (problem !== null) reasons.push(`VM ${quoted(vm)}: ${problem}`);
  else if (limit !== null && vifCount > limit.limit) {
    reasons.push(`VM ${quoted(vm)} has ${vifCount} VIFs; the limit is ${limit.limit} (${LIMIT_SOURCE[limit.source]}; set ${VIF_LIMIT_FIELD} to change it)`);
  }
  const [first] = taken;
  if (first !== undefined) {
    const who = first.keeper.vmUuid === vm.uuid ? 'it has on another VIF too' : `VM ${quoted({ name: first.keeper.vmName, uuid: first.keeper.vmUuid })} uses`;
    const more = taken.length > 1 ? ` (and ${taken.length - 1} more MAC(s) in use elsewhere)` : '';
    reasons.push(`VM ${quoted(vm)} has MAC ${first.mac}, which ${who}${more}`);
  }
  return {
    uuid: vm.uuid, name: vm.name, ref: vm.ref, vifCount, limit, limitProblem: problem, duplicateMacs: taken.map(({ mac }) => mac),
    reason: reasons.length === 0 ? null : `${REASON_MARK}${reasons.join('; ')}`,
  };
}

export interface Decider {
  /** This host's ref; null when XAPI does not know it (then it decides nothing). */
  readonly hostRef: string | null;
  /** The pool master's ref: it decides for VMs resident nowhere (halted, suspended). */
  readonly masterRef: string | null;
}

/** Whether this host's vifd speaks for the VM: it runs here, or runs nowhere and this host is the master. */
export function decides(records: RecordLookup, vm: XapiVm, decider: Decider): boolean {
  if (decider.hostRef === null) return false;
  if (vm.residentOn !== null && records.get('host', vm.residentOn) !== undefined) return vm.residentOn === decider.hostRef;
  return decider.hostRef === decider.masterRef;
}

export function decideGuards(records: RecordLookup, decider: Decider, settings: GuardSettings): { guards: VmGuard[]; duplicates: DuplicateMac[] } {
  const vms = guestVms(records);
  const duplicates = duplicateMacs(records, vms);
  const guards = vms.filter((vm) => decides(records, vm, decider)).map((vm) => guardOf(records, vm, duplicates, settings));
  return { guards, duplicates };
}

export interface BlockedWrites {
  readonly remove: readonly string[];
  readonly add: readonly { readonly operation: string; readonly reason: string }[];
}

/**
 * From the VM's blocked_operations to the wanted ones: vifd's reason on every
 * guarded operation, or none of vifd's. An operator's entry stays as it is
 * (the operation is blocked either way); a stale vifd reason is replaced.
 */
export function blockedWrites(current: Readonly<Record<string, string>>, reason: string | null): BlockedWrites {
  const remove: string[] = [];
  const add: { operation: string; reason: string }[] = [];
  for (const operation of GUARDED_OPERATIONS) {
    const seen = current[operation];
    const ours = seen?.startsWith(REASON_MARK) === true;
    if (reason === null) {
      if (ours) remove.push(operation);
      continue;
    }
    if (seen === undefined) add.push({ operation, reason });
    else if (ours && seen !== reason) {
      remove.push(operation);
      add.push({ operation, reason });
    }
  }
  return { remove, add };
}
