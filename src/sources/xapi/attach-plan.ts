// What `vifctl attach` and `detach` do to an XAPI VM, decided in pure code:
// which network is meant, the VIF's device (the first XAPI allows, within
// vifd's limit), its MAC (vifd's deterministic one unless one is given), and
// which VIF a detach names.
import { InvalidInputError, LimitExceededError, MacInUseError } from '../../model/errors.js';
import type { VifLimit } from '../../model/limit.js';
import { chooseMac } from '../../model/mac.js';
import type { MacPrefix } from '../../model/mac.js';
import { integer, text } from './fields.js';
import type { RecordLookup } from './fields.js';
import { guestVms, vifsOf } from './vms.js';
import type { XapiVif, XapiVm } from './vms.js';

export interface XapiNetwork {
  readonly ref: string;
  readonly uuid: string;
  readonly name: string;
  readonly bridge: string;
  readonly mtu: number;
}

/** The network by uuid, bridge or (unique) name_label. */
export function findNetwork(records: RecordLookup, wanted: string): XapiNetwork {
  const networks = [...records.all('network')].map(([ref, record]): XapiNetwork => ({
    ref, uuid: text(record, 'uuid'), name: text(record, 'name_label'), bridge: text(record, 'bridge'), mtu: integer(record, 'MTU') ?? 1500,
  }));
  const exact = networks.find((network) => network.uuid.toLowerCase() === wanted.toLowerCase() || network.bridge === wanted);
  if (exact !== undefined) return exact;
  const named = networks.filter((network) => network.name === wanted);
  const [only] = named;
  if (named.length === 1 && only !== undefined) return only;
  const why = named.length > 1 ? `${named.length} XAPI networks are named so; give its uuid or bridge` : 'no XAPI network has this uuid, bridge or name';
  throw new InvalidInputError(`${JSON.stringify(wanted)}: ${why}`, { field: 'network', value: wanted });
}

/** The guest VM by uuid or (unique) name_label; null when XAPI has none of that name (another source's VM). */
export function findVmByName(records: RecordLookup, wanted: string): XapiVm | null {
  const vms = guestVms(records);
  const byUuid = vms.find((vm) => vm.uuid === wanted.toLowerCase());
  if (byUuid !== undefined) return byUuid;
  const named = vms.filter((vm) => vm.name === wanted);
  if (named.length > 1) throw new InvalidInputError(`${named.length} XAPI VMs are named ${JSON.stringify(wanted)}; give its uuid`, { field: 'domain', value: wanted });
  return named[0] ?? null;
}

export interface AttachInput {
  readonly network: string;
  readonly mac?: string;
  readonly vlan?: string;
}

export interface XapiAttachPlan {
  readonly device: number;
  readonly network: XapiNetwork;
  readonly mac: string;
}

/** Every MAC the pool's VIFs use (lowercase). */
export const poolMacs = (records: RecordLookup): Set<string> =>
  new Set([...records.all('VIF').values()].map((record) => text(record, 'MAC').toLowerCase()).filter((mac) => mac !== ''));

export function planXapiAttach(records: RecordLookup, vm: XapiVm, input: AttachInput, allowed: readonly string[], limit: VifLimit, prefix: MacPrefix): XapiAttachPlan {
  const context = { domain: vm.name, vmUuid: vm.uuid };
  if (input.vlan !== undefined) throw new InvalidInputError('an XAPI VIF takes its VLAN from its network; choose a VLAN network instead', { ...context, field: 'vlan', value: input.vlan });
  const network = findNetwork(records, input.network);
  const count = new Set(vifsOf(records, vm).map((vif) => vif.device ?? vif.uuid)).size;
  if (count + 1 > limit.limit) throw new LimitExceededError(`asks for ${count + 1} VIFs; the limit is ${limit.limit}`, context);
  const device = allowed.map(Number).filter((n) => Number.isInteger(n) && n >= 0).sort((a, b) => a - b)[0];
  if (device === undefined) throw new LimitExceededError('XAPI allows no further VIF device (VM.get_allowed_VIF_devices is empty)', context);
  const taken = poolMacs(records);
  const mac = chooseMac({ vmUuid: vm.uuid, index: device, prefix, explicit: input.mac, isTaken: (candidate) => taken.has(candidate) });
  if (mac.source === 'explicit' && taken.has(mac.mac)) throw new MacInUseError(`MAC ${mac.mac} is already used in the pool`, { ...context, field: 'mac', value: mac.mac });
  return { device, network, mac: mac.mac };
}

/** The VIF a detach names: by device number or by MAC. */
export function findVifToDetach(records: RecordLookup, vm: XapiVm, which: { readonly index?: number; readonly mac?: string }): XapiVif {
  const vifs = vifsOf(records, vm);
  const found = which.index === undefined ? vifs.find((vif) => vif.mac === which.mac?.toLowerCase()) : vifs.find((vif) => vif.device === which.index);
  if (found !== undefined) return found;
  const named = which.index === undefined ? `MAC ${which.mac ?? ''}` : `device ${which.index}`;
  throw new InvalidInputError(`VM has no VIF with ${named}`, { domain: vm.name, vmUuid: vm.uuid, field: which.index === undefined ? 'mac' : 'index' });
}
