// From XAPI's records to what vifd plans (pure): where a VM runs, its VIFs
// as XAPI holds them, and the VM intent of one resident on this host. A VIF
// becomes a netback intent exactly as the Xen hook's request for the same
// device would (netbackIntent), so the two paths never disagree about a port.
// Which devices exist is the host's to say (netback makes vifD.N when XAPI
// plugs the VIF, and removes it on unplug): a VIF is planned only while its
// device exists.
import { InvalidInputError, withErrorContext } from '../../model/errors.js';
import { parseVmUuid } from '../../model/ids.js';
import { parseAllowedList } from '../../model/allowed-addresses.js';
import { parseMac } from '../../model/mac.js';
import type { NetbackVifIntent, VmIntent } from '../../model/vm-intent.js';
import { parseBridgeName } from '../xen-hotplug/bridge.js';
import { netbackIntent } from '../xen-hotplug/daemon-side.js';
import type { FakeBridgeLookup } from '../xen-hotplug/daemon-side.js';
import type { XenPlugRequest } from '../xen-hotplug/protocol.js';
import type { XapiRecord } from '../../xapi/records.js';
import { NULL_REF, anyList, flag, hasEntries, integer, integerList, refList, stringMap, text } from './fields.js';
import type { RecordLookup } from './fields.js';

/** VM.other_config key of a VM's own VIF limit (text, e.g. "8"); documented in the README. */
export const VIF_LIMIT_KEY = 'vifd-vif-limit';
export const VIF_LIMIT_FIELD = `VM.other_config:${VIF_LIMIT_KEY}`;

export type VmPlacement =
  /** Runs (or is paused) on this host with this domid: its attached VIFs have devices here. */
  | { readonly kind: 'here'; readonly domid: number }
  /** Not running here, and an operation is under way (a start, a migration in): what XAPI says is about to change. */
  | { readonly kind: 'busy' }
  /** Halted, suspended, or on another host: nothing of it belongs on this host. */
  | { readonly kind: 'not-here' };

export interface XapiVm {
  readonly ref: string;
  readonly uuid: string;
  readonly name: string;
  readonly powerState: string;
  /** The host it is resident on; null when none (halted, suspended). */
  readonly residentOn: string | null;
  readonly vifRefs: readonly string[];
  readonly otherConfig: Readonly<Record<string, string>>;
  readonly blockedOperations: Readonly<Record<string, string>>;
}

export interface XapiVif {
  readonly ref: string;
  readonly uuid: string;
  /** N of vifD.N; null when XAPI's device field is not an unsigned decimal. */
  readonly device: number | null;
  readonly mac: string;
  readonly networkRef: string;
  readonly networkUuid: string;
  readonly networkName: string;
  /** The network's bridge as XAPI names it: xenbr0, or a VLAN network's fake bridge (xapi3). */
  readonly bridge: string;
  readonly mtu: number | null;
  readonly trunks: readonly number[];
  readonly currentlyAttached: boolean;
  /**
   * VIF.locking_mode with network_default resolved to the network's
   * default_locking_mode, as xapi does before xenopsd writes the key; the raw
   * text, checked when the VIF is planned.
   */
  readonly lockingMode: string;
  readonly ipv4Allowed: readonly unknown[];
  readonly ipv6Allowed: readonly unknown[];
}

const isGuest = (record: XapiRecord): boolean =>
  !flag(record, 'is_control_domain') && !flag(record, 'is_a_template') && !flag(record, 'is_a_snapshot') && text(record, 'uuid') !== '';

export function readVm(ref: string, record: XapiRecord): XapiVm {
  const resident = text(record, 'resident_on');
  return {
    ref, uuid: text(record, 'uuid').toLowerCase(), name: text(record, 'name_label'), powerState: text(record, 'power_state'),
    residentOn: resident === '' || resident === NULL_REF ? null : resident, vifRefs: refList(record, 'VIFs'),
    otherConfig: stringMap(record, 'other_config'), blockedOperations: stringMap(record, 'blocked_operations'),
  };
}

/** Guest VMs (no control domains, templates or snapshots), by ref. */
export function guestVms(records: RecordLookup): XapiVm[] {
  return [...records.all('VM')].filter(([, record]) => isGuest(record)).map(([ref, record]) => readVm(ref, record));
}

/** The guest VM with this uuid (any letter case), or null. */
export function findVm(records: RecordLookup, uuid: string): XapiVm | null {
  const wanted = uuid.toLowerCase();
  for (const [ref, record] of records.all('VM')) if (isGuest(record) && text(record, 'uuid').toLowerCase() === wanted) return readVm(ref, record);
  return null;
}

/**
 * A VM running here stays here while an operation runs (its devices say what
 * is left of it during a shutdown or a migration away); one that is not yet
 * here may be arriving (a start, a migration in), so XAPI does not speak for it.
 */
export function placementOf(records: RecordLookup, vm: XapiVm, hostRef: string | null): VmPlacement {
  const record = records.get('VM', vm.ref);
  const domid = integer(record, 'domid');
  const running = vm.powerState === 'Running' || vm.powerState === 'Paused';
  if (running && hostRef !== null && vm.residentOn === hostRef && domid !== null && domid >= 0) return { kind: 'here', domid };
  if (hasEntries(record, 'current_operations')) return { kind: 'busy' };
  return { kind: 'not-here' };
}

export function readVif(records: RecordLookup, ref: string): XapiVif | null {
  const record = records.get('VIF', ref);
  if (record === undefined) return null;
  const deviceText = text(record, 'device');
  const networkRef = text(record, 'network');
  const network = records.get('network', networkRef);
  const mtu = integer(record, 'MTU');
  return {
    ref, uuid: text(record, 'uuid'), device: /^\d{1,3}$/.test(deviceText) ? Number(deviceText) : null, mac: text(record, 'MAC').toLowerCase(),
    networkRef, networkUuid: text(network, 'uuid'), networkName: text(network, 'name_label'), bridge: text(network, 'bridge'),
    mtu: mtu !== null && mtu > 0 ? mtu : null, trunks: integerList(record, 'trunks'), currentlyAttached: flag(record, 'currently_attached'),
    lockingMode: lockingModeOf(record, network), ipv4Allowed: anyList(record, 'ipv4_allowed'), ipv6Allowed: anyList(record, 'ipv6_allowed'),
  };
}

function lockingModeOf(vif: XapiRecord, network: XapiRecord | undefined): string {
  const mode = text(vif, 'locking_mode');
  if (mode !== 'network_default' && mode !== '') return mode;
  // XAPI's default for a network without one is unlocked.
  return text(network, 'default_locking_mode') === '' ? 'unlocked' : text(network, 'default_locking_mode');
}

/** locked / unlocked / disabled, or a refusal naming the field (XAPI has no other value). */
function xapiLocking(vif: XapiVif): Pick<NonNullable<XenPlugRequest['xapi']>, 'lockingMode' | 'ipv4Allowed' | 'ipv6Allowed'> {
  const mode = vif.lockingMode;
  if (mode !== 'locked' && mode !== 'unlocked' && mode !== 'disabled') {
    throw new InvalidInputError(`${JSON.stringify(mode)} is not a locking mode (locked, unlocked, disabled)`, { field: 'VIF.locking_mode', value: mode });
  }
  if (mode !== 'locked') return { lockingMode: mode };
  return { lockingMode: mode, ipv4Allowed: parseAllowedList(vif.ipv4Allowed, 4, 'VIF.ipv4_allowed'), ipv6Allowed: parseAllowedList(vif.ipv6Allowed, 6, 'VIF.ipv6_allowed') };
}

/** The VM's VIFs XAPI knows, in device order. */
export function vifsOf(records: RecordLookup, vm: XapiVm): XapiVif[] {
  return vm.vifRefs.flatMap((ref) => readVif(records, ref) ?? []).sort((a, b) => (a.device ?? -1) - (b.device ?? -1));
}

/** The devices netback (vifD.N) and xenopsd's emulated twin (tapD.N, HVM) make for a VIF. */
export const vifDevices = (domid: number, device: number): readonly [string, string] => [`vif${domid}.${device}`, `tap${domid}.${device}`];

/** The request the Xen hook would send for this device, checked as the hook checks it. */
function plugRequest(vm: XapiVm, vif: XapiVif, name: string, domid: number, device: number): XenPlugRequest {
  return withErrorContext({ domain: vm.name, vmUuid: vm.uuid, vifIndex: device }, () => {
    const bridgeName = parseBridgeName(vif.bridge, 'network.bridge');
    const bridge = vif.trunks.length > 0 ? { bridge: bridgeName, trunks: [...new Set(vif.trunks)].sort((a, b) => a - b) } : { bridge: bridgeName };
    return {
      version: 1, toolstack: 'xenopsd', command: 'xapi', action: 'plug',
      device: { name, type: name.startsWith('tap') ? 'tap' : 'vif', domid, devid: device },
      vm: { uuid: vm.uuid, ...(vm.name === '' ? {} : { name: vm.name }) }, mac: parseMac(vif.mac, 'VIF.MAC'), bridge,
      ...(vif.mtu === null ? {} : { mtu: vif.mtu }),
      xapi: { vifUuid: parseVmUuid(vif.uuid, 'VIF.uuid'), networkUuid: parseVmUuid(vif.networkUuid, 'network.uuid'), ...xapiLocking(vif) },
    };
  });
}

export interface IntentInputs {
  /** A network device exists on this host. */
  readonly exists: (name: string) => boolean;
  readonly fakeBridge: FakeBridgeLookup;
  /** The VM's VIF limit for the planner (its override, or the XAPI default), raw text. */
  readonly vifLimit?: string;
  /** The host config's xen.allowed_bridges, as the hook applies it. */
  readonly allowedBridges?: readonly string[];
}

/**
 * The intent of a VM running here: one netback VIF per device that exists.
 * Throws (naming VM, VIF and field) when a record holds what no device may
 * be plugged with; the engine then leaves the VM's VIFs as they are.
 */
export function runningIntent(records: RecordLookup, vm: XapiVm, domid: number, inputs: IntentInputs): VmIntent {
  const vifs: NetbackVifIntent[] = [];
  for (const vif of vifsOf(records, vm)) {
    if (vif.device === null) {
      throw new InvalidInputError(`VIF ${vif.uuid} has no device number (an unsigned decimal)`, { domain: vm.name, vmUuid: vm.uuid, field: 'VIF.device' });
    }
    // locking_mode=disabled: the device stays off the switch, as the hook leaves it.
    if (vif.lockingMode === 'disabled') continue;
    for (const name of vifDevices(domid, vif.device)) {
      if (inputs.exists(name)) vifs.push(netbackIntent(plugRequest(vm, vif, name, domid, vif.device), inputs.fakeBridge, inputs.allowedBridges));
    }
  }
  return { uuid: vm.uuid, name: vm.name === '' ? vm.uuid : vm.name, vifs, others: [], ...(inputs.vifLimit === undefined ? {} : { vifLimit: inputs.vifLimit }) };
}
