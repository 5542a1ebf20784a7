// The planner (pure): from a VM's intent and the host's settings, what every
// VIF of the VM must be: device name, MAC, bridge, VLANs, MTU, or a refusal
// naming the VM, the VIF and the field. Interfaces the VM's source plugs
// itself are described and counted, not changed. Every interface counts
// toward the VIF limit.
import { parseAllowedList } from './allowed-addresses.js';
import { InvalidInputError, LimitExceededError, MacInUseError, withErrorContext } from './errors.js';
import { resolveVifLimit } from './limit.js';
import type { VifLimit } from './limit.js';
import { chooseMac } from './mac.js';
import type { MacPrefix } from './mac.js';
import { assertValidInterfaceName, deviceName } from './names.js';
import { intentVfAddress, vfWithoutChooser, withNetworkKinds } from './sriov/vf-plan.js';
import type { PlannedVf, SriovNetworkSettings, VfChooser } from './sriov/vf-plan.js';
import { validateVlanSettings } from './vlan.js';
import type { VlanSettings } from './vlan.js';
import type { VifIntent, VmIdentity, VmIntent, XapiVifIdentity } from './vm-intent.js';

export interface NetworkSettings {
  readonly bridge: string;
  readonly vlan: VlanSettings;
  readonly mtu?: number;
  /** Set for an SR-IOV network (its VIFs are VFs, not TAPs). */
  readonly sriov?: SriovNetworkSettings;
}

/** What the planner needs of the host config (HostConfig satisfies it). */
export interface PlanSettings {
  readonly macPrefix: MacPrefix;
  readonly vifLimit: { readonly default: number; readonly max: number };
  readonly networks: ReadonlyMap<string, NetworkSettings>;
  /** The daemon's VF pools; without them (a dry run) an SR-IOV VIF keeps the VF its definition records. */
  readonly vfs?: VfChooser;
}

/** A TAP vifd creates and plugs into an Open vSwitch bridge (src/kinds/tap-ovs). */
export interface TapVifPlan {
  readonly kind: 'tap';
  readonly index: number;
  readonly device: string;
  readonly mac: string;
  readonly macSource: 'explicit' | 'derived';
  readonly macCollisions: number;
  readonly network: string;
  readonly bridge: string;
  readonly vlan: VlanSettings;
  readonly mtu?: number;
}

/** A device Xen made (netback's vifD.N, the toolstack's tapD.N) that vifd plugs into OVS (src/kinds/netback). */
export interface NetbackVifPlan {
  readonly kind: 'netback';
  /** The Xen devid. */
  readonly index: number;
  readonly device: string;
  readonly mac: string;
  readonly macSource: 'explicit';
  readonly macCollisions: 0;
  /** The bridge as the toolstack named it (a fake bridge's own name). */
  readonly network: string;
  readonly bridge: string;
  readonly vlan: VlanSettings;
  readonly mtu?: number;
  readonly xenVmName?: string;
  readonly xapi?: XapiVifIdentity;
  /** Recorded on the port; `locked` also gets OpenFlow rules letting only the MAC and allowed addresses through. */
  readonly lockingMode?: 'unlocked' | 'locked';
  readonly ipv4Allowed?: readonly string[];
  readonly ipv6Allowed?: readonly string[];
}

/** A VF of an SR-IOV network handed to the guest (src/kinds/sriov-vf). */
export interface SriovVfPlan {
  readonly kind: 'sriov-vf';
  readonly index: number;
  /** Not a network device: the VIF's stable name (as a TAP's), how status and the engine key it. */
  readonly device: string;
  readonly mac: string;
  readonly macSource: 'explicit' | 'derived';
  readonly macCollisions: number;
  readonly network: string;
  /** The PF's netdev (where the VIF's traffic leaves), for status. */
  readonly bridge: string;
  readonly vlan: VlanSettings;
  /** The network's MTU, shown only: a VF's MTU is the guest driver's business. */
  readonly mtu?: number;
  readonly vf: PlannedVf;
  readonly sriov: SriovNetworkSettings;
}

/** Every kind of VIF vifd plugs; each has its module under src/kinds/. */
export type VifPlan = TapVifPlan | NetbackVifPlan | SriovVfPlan;

/** A VIF the host must have: its plan plus whose it is. */
export type DesiredVif = VifPlan & { readonly vmUuid: string; readonly vmName: string };
/** A desired VIF of one kind. */
export type DesiredOf<K extends VifPlan['kind']> = Extract<VifPlan, { kind: K }> & { readonly vmUuid: string; readonly vmName: string };

/** An interface the VM's source plugs into OVS itself; vifd only accounts for it. */
export interface OtherVifPlan {
  /** Who plugs it, e.g. "libvirt-ovs". */
  readonly kind: string;
  readonly device?: string;
  readonly mac?: string;
  readonly bridge: string;
  readonly vlan: VlanSettings;
}

export interface VmPlan {
  readonly vm: VmIdentity;
  readonly limit: VifLimit;
  readonly vifs: readonly VifPlan[];
  readonly otherInterfaces: readonly OtherVifPlan[];
  /** Interfaces vifd neither manages nor understands (counted toward the limit). */
  readonly warnings: readonly string[];
  readonly interfaceCount: number;
}

/** Says who else uses a MAC on this host ("VM \"db\" (uuid)"), or null when nobody does. */
export type MacUser = (mac: string) => string | null;

export interface TakenMacs {
  /** Another VM using the MAC, or this VM's own explicit MACs (reserved first). */
  readonly userOf: MacUser;
  readonly add: (mac: string) => void;
}

/** Plans one VIF of one kind (device name, MAC, where it plugs); throws naming the field. */
export type VifPlanner = (vm: VmIdentity, intent: VifIntent, settings: PlanSettings, taken: TakenMacs) => VifPlan;

const SELF = 'this VM';
const XEN_DEVICE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

function planTapVif(vm: VmIdentity, intent: VifIntent, settings: PlanSettings, taken: TakenMacs): TapVifPlan {
  if (intent.kind !== 'tap') throw new InvalidInputError(`a ${intent.kind} VIF is not a TAP`, { field: 'kind' });
  const index = intent.index;
  const network = settings.networks.get(intent.network);
  if (network === undefined) {
    const known = [...settings.networks.keys()].sort().join(', ') || 'none';
    throw new InvalidInputError(`network ${JSON.stringify(intent.network)} is not defined on this host (known: ${known})`, { field: 'network' });
  }
  if (network.sriov !== undefined) throw new InvalidInputError(`network ${JSON.stringify(intent.network)} is an SR-IOV network: its VIFs are VFs, not TAPs`, { field: 'network' });
  const mac = takeMac(vm, intent, settings, taken);
  const plan: TapVifPlan = {
    kind: 'tap', index, device: deviceName(vm.uuid, index), mac: mac.mac, macSource: mac.source, macCollisions: mac.collisions,
    network: intent.network, bridge: network.bridge,
    vlan: intent.vlan === undefined ? network.vlan : withErrorContext({ field: 'vlan' }, () => validateVlanSettings({ tag: intent.vlan })),
  };
  return network.mtu === undefined ? plan : { ...plan, mtu: network.mtu };
}

/**
 * A Xen device is taken as the toolstack made it: its name, its MAC and its
 * bridge come from the hotplug script's request; vifd checks and records them.
 */
function planNetbackVif(vm: VmIdentity, intent: VifIntent, settings: PlanSettings, taken: TakenMacs): NetbackVifPlan {
  if (intent.kind !== 'netback') throw new InvalidInputError(`a ${intent.kind} VIF is not a Xen device`, { field: 'kind' });
  assertValidInterfaceName(intent.device, 'device');
  // As the hotplug protocol checks it: the name comes from VM configuration (xl's vifname).
  if (!XEN_DEVICE_NAME.test(intent.device)) throw new InvalidInputError(`${JSON.stringify(intent.device)} is not a Xen device name (letters, digits, ".", "-", "_")`, { field: 'device', value: intent.device });
  assertValidInterfaceName(intent.bridge, 'bridge');
  if (intent.mtu !== undefined && !(Number.isInteger(intent.mtu) && intent.mtu >= 68 && intent.mtu <= 65535)) {
    throw new InvalidInputError(`${String(intent.mtu)} is not an MTU (68-65535)`, { field: 'mtu', value: intent.mtu });
  }
  const vlan = withErrorContext({ field: 'vlan' }, () => validateVlanSettings(intent.vlan.mode === 'none' ? {} : intent.vlan));
  const { mac } = takeMac(vm, intent, settings, taken);
  return {
    kind: 'netback', index: intent.index, device: intent.device, mac, macSource: 'explicit', macCollisions: 0,
    network: intent.network, bridge: intent.bridge, vlan,
    ...(intent.mtu === undefined ? {} : { mtu: intent.mtu }),
    ...(intent.vmName === undefined ? {} : { xenVmName: intent.vmName }), ...(intent.xapi === undefined ? {} : { xapi: intent.xapi }),
    ...(intent.lockingMode === undefined ? {} : { lockingMode: intent.lockingMode }),
    // Only a locked port's rules use the addresses: an unlocked one records none.
    ...(intent.lockingMode === 'locked' ? {
      ipv4Allowed: parseAllowedList(intent.ipv4Allowed ?? [], 4, 'ipv4-allowed'), ipv6Allowed: parseAllowedList(intent.ipv6Allowed ?? [], 6, 'ipv6-allowed'),
    } : {}),
  };
}

/**
 * An SR-IOV VIF: its MAC as a TAP's, and its VF claimed from the network's
 * pool (the one its definition records, else sticky / most-free PF). The
 * claim is the plan's only effect; a VF claimed for a plan nobody plugs is
 * released by the next reconcile (the kind reports it as that VM's).
 */
function planSriovVif(vm: VmIdentity, intent: VifIntent, settings: PlanSettings, taken: TakenMacs): SriovVfPlan {
  if (intent.kind !== 'sriov-vf') throw new InvalidInputError(`a ${intent.kind} VIF is not an SR-IOV VIF`, { field: 'kind' });
  const network = settings.networks.get(intent.network);
  if (network?.sriov === undefined) {
    const known = [...settings.networks].filter(([, each]) => each.sriov !== undefined).map(([name]) => name).sort().join(', ') || 'none';
    throw new InvalidInputError(`network ${JSON.stringify(intent.network)} is not an SR-IOV network on this host (SR-IOV networks: ${known})`, { field: 'network' });
  }
  const wanted = intentVfAddress(intent.vf);
  const mac = takeMac(vm, intent, settings, taken);
  const vf = settings.vfs === undefined ? vfWithoutChooser(intent.network, wanted) : settings.vfs.claim(intent.network, { vmUuid: vm.uuid, vifIndex: intent.index }, wanted);
  const tag = network.sriov.vlan;
  return {
    kind: 'sriov-vf', index: intent.index, device: deviceName(vm.uuid, intent.index), mac: mac.mac, macSource: mac.source, macCollisions: mac.collisions,
    network: intent.network, bridge: vf.on?.pfName ?? '', vlan: tag === undefined ? { mode: 'none' } : { mode: 'access', tag }, vf, sriov: network.sriov,
    ...(network.mtu === undefined ? {} : { mtu: network.mtu }),
  };
}

/** The planner of every VIF kind vifd has (one entry per kind, checked by the compiler). */
export const VIF_PLANNERS: { readonly [K in VifIntent['kind']]: VifPlanner } = { tap: planTapVif, netback: planNetbackVif, 'sriov-vf': planSriovVif };

/** An explicit MAC, checked against every other user; a derived one moves on past them. */
export function takeMac(vm: VmIdentity, intent: VifIntent, settings: PlanSettings, taken: TakenMacs): { mac: string; source: 'explicit' | 'derived'; collisions: number } {
  const mac = chooseMac({ vmUuid: vm.uuid, index: intent.index, prefix: settings.macPrefix, explicit: intent.mac, isTaken: (candidate) => taken.userOf(candidate) !== null });
  if (mac.source === 'explicit') {
    // Invariant 6: a MAC is never shared. A derived one moves on; an explicit one cannot.
    const user = taken.userOf(mac.mac);
    if (user !== null && user !== SELF) throw new MacInUseError(`MAC ${mac.mac} is already used by ${user}`, { field: 'mac', value: mac.mac });
  }
  taken.add(mac.mac);
  return { mac: mac.mac, source: mac.source, collisions: mac.collisions };
}

const limitSource = (limit: VifLimit): string =>
  ({ vm: "the VM's own override", host: 'host default', builtin: "vifd's default, as Xen's" })[limit.source];

/**
 * Plans every VIF of a VM. `macUser` says which other VM on this host uses a
 * MAC (the daemon knows; a dry run may not).
 */
export function planVm(intent: VmIntent, settings: PlanSettings, macUser: MacUser = () => null, planners: Readonly<Record<string, VifPlanner>> = VIF_PLANNERS): VmPlan {
  const context = { domain: intent.name, vmUuid: intent.uuid };
  const vm = withErrorContext(context, () => withNetworkKinds(intent, (network) => settings.networks.get(network)?.sriov !== undefined));
  const limit = withErrorContext(context, () => resolveVifLimit({
    hostDefault: settings.vifLimit.default, hostMax: settings.vifLimit.max, vmOverride: vm.vifLimit,
  }));
  // A Xen VIF's PV device and its emulated twin (vif7.0, tap7.0) share the devid: one VIF.
  const vifCount = new Set(vm.vifs.map((intent) => intent.index)).size;
  const interfaceCount = vifCount + vm.others.length;
  if (interfaceCount > limit.limit) {
    const others = vm.others.length > 0 ? ` (${vifCount} from vifd, ${vm.others.length} other interfaces)` : '';
    throw new LimitExceededError(`asks for ${interfaceCount} VIFs${others}; the limit is ${limit.limit} (${limitSource(limit)})`, context);
  }
  // Explicit MACs of this VM are reserved first so a derived MAC never takes one.
  const taken = new Set(vm.vifs.flatMap((intent) => (intent.mac === undefined ? [] : [intent.mac.toLowerCase()])));
  const isTaken: TakenMacs = { userOf: (mac) => macUser(mac) ?? (taken.has(mac) ? SELF : null), add: (mac) => { taken.add(mac); } };
  const vifs = vm.vifs.map((intent) => withErrorContext({ ...context, vifIndex: intent.index }, () => {
    const planner = planners[intent.kind];
    if (planner === undefined) throw new InvalidInputError(`kind ${JSON.stringify(intent.kind)} is not supported (${Object.keys(planners).join(', ')})`, { field: 'kind' });
    return planner(vm, intent, settings, isTaken);
  }));
  const otherInterfaces: OtherVifPlan[] = [];
  const warnings: string[] = [];
  for (const other of vm.others) {
    if (other.kind === 'unmanaged') {
      warnings.push(`${other.description} is not managed by vifd; it counts toward the VIF limit`);
      continue;
    }
    otherInterfaces.push({ kind: `${other.pluggedBy}-ovs`, bridge: other.bridge, vlan: other.vlan,
      ...(other.device === undefined ? {} : { device: other.device }), ...(other.mac === undefined ? {} : { mac: other.mac }) });
  }
  return { vm: { name: vm.name, uuid: vm.uuid }, limit, vifs, otherInterfaces, warnings, interfaceCount };
}

/** The plan's VIFs as the host must have them, each marked with its VM. */
export const desiredVifs = (plan: VmPlan): DesiredVif[] => plan.vifs.map((vif) => ({ ...vif, vmUuid: plan.vm.uuid, vmName: plan.vm.name }));
