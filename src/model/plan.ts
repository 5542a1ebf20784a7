// The planner (pure): from a domain definition and the host's settings, what
// every VIF of the VM must be: device name, MAC, bridge, VLANs, MTU, or a
// refusal naming the VM, the VIF and the field. vifd's TAP VIFs come from its
// metadata intent; standard libvirt OVS interfaces (type='bridge' with an
// openvswitch virtualport) are plugged by libvirt itself and are described
// and counted, not changed. Every interface counts toward the VIF limit.
import type { DomainDefinition, InterfaceDefinition, VifIntent } from './domain-xml.js';
import { InvalidInputError, LimitExceededError, MacInUseError, withErrorContext } from './errors.js';
import { resolveVifLimit } from './limit.js';
import type { VifLimit } from './limit.js';
import { chooseMac } from './mac.js';
import type { MacPrefix } from './mac.js';
import { deviceName } from './names.js';
import { validateVlanSettings } from './vlan.js';
import type { VlanSettings } from './vlan.js';

export interface NetworkSettings {
  readonly bridge: string;
  readonly vlan: VlanSettings;
  readonly mtu?: number;
}

/** What the planner needs of the host config (HostConfig satisfies it). */
export interface PlanSettings {
  readonly macPrefix: MacPrefix;
  readonly vifLimit: { readonly default: number; readonly max: number };
  readonly networks: ReadonlyMap<string, NetworkSettings>;
}

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

/** An interface libvirt plugs into OVS itself; vifd only accounts for it. */
export interface LibvirtOvsVifPlan {
  readonly kind: 'libvirt-ovs';
  readonly device?: string;
  readonly mac?: string;
  readonly bridge: string;
  readonly vlan: VlanSettings;
}

export interface DomainPlan {
  readonly vm: { readonly name: string; readonly uuid: string };
  readonly limit: VifLimit;
  readonly vifs: readonly TapVifPlan[];
  readonly otherInterfaces: readonly LibvirtOvsVifPlan[];
  /** Interfaces vifd neither manages nor understands (counted toward the limit). */
  readonly warnings: readonly string[];
  readonly interfaceCount: number;
}

function libvirtVlan(definition: InterfaceDefinition): VlanSettings {
  const tags = definition.vlanTags;
  if (tags.length === 0) return { mode: 'none' };
  const native = tags.find((tag) => tag.nativeMode !== undefined);
  if (native !== undefined) {
    const trunks = tags.filter((tag) => tag !== native).map((tag) => tag.id);
    return validateVlanSettings({ mode: `native-${native.nativeMode ?? ''}`, tag: native.id, ...(trunks.length > 0 ? { trunks } : {}) });
  }
  if (definition.vlanTrunk || tags.length > 1) return validateVlanSettings({ trunks: tags.map((tag) => tag.id) });
  return validateVlanSettings({ tag: tags[0]?.id });
}

/** Says who else uses a MAC on this host ("VM \"db\" (uuid)"), or null when nobody does. */
export type MacUser = (mac: string) => string | null;

interface TakenMacs {
  /** Another VM using the MAC, or this VM's own explicit MACs (reserved first). */
  readonly userOf: MacUser;
  readonly add: (mac: string) => void;
}

function planTapVif(domain: DomainDefinition, intent: VifIntent, settings: PlanSettings, taken: TakenMacs): TapVifPlan {
  const index = intent.index;
  const network = settings.networks.get(intent.network);
  if (network === undefined) {
    const known = [...settings.networks.keys()].sort().join(', ') || 'none';
    throw new InvalidInputError(`network ${JSON.stringify(intent.network)} is not defined on this host (known: ${known})`, { field: 'network' });
  }
  const mac = chooseMac({ vmUuid: domain.uuid, index, prefix: settings.macPrefix, explicit: intent.mac, isTaken: (candidate) => taken.userOf(candidate) !== null });
  if (mac.source === 'explicit') {
    // Invariant 6: a MAC is never shared. A derived one moves on; an explicit one cannot.
    const user = taken.userOf(mac.mac);
    if (user !== null && user !== SELF) throw new MacInUseError(`MAC ${mac.mac} is already used by ${user}`, { field: 'mac', value: mac.mac });
  }
  taken.add(mac.mac);
  const plan: TapVifPlan = {
    kind: 'tap', index, device: deviceName(domain.uuid, index), mac: mac.mac, macSource: mac.source, macCollisions: mac.collisions,
    network: intent.network, bridge: network.bridge,
    vlan: intent.vlan === undefined ? network.vlan : withErrorContext({ field: 'vlan' }, () => validateVlanSettings({ tag: intent.vlan })),
  };
  return network.mtu === undefined ? plan : { ...plan, mtu: network.mtu };
}

const SELF = 'this VM';

/**
 * Plans every VIF of a domain. `macUser` says which other VM on this host
 * uses a MAC (the daemon knows; a dry run may not).
 */
export function planDomain(domain: DomainDefinition, settings: PlanSettings, macUser: MacUser = () => null): DomainPlan {
  const context = { domain: domain.name, vmUuid: domain.uuid };
  const intents = domain.intent?.vifs ?? [];
  const limit = withErrorContext(context, () => resolveVifLimit({
    hostDefault: settings.vifLimit.default, hostMax: settings.vifLimit.max, vmOverride: domain.intent?.vifLimit,
  }));
  const devices = new Set(intents.map((intent) => deviceName(domain.uuid, intent.index)));
  const foreign = domain.interfaces.filter((definition) => definition.targetDev === undefined || !devices.has(definition.targetDev));
  const interfaceCount = intents.length + foreign.length;
  if (interfaceCount > limit.limit) {
    const others = foreign.length > 0 ? ` (${intents.length} from vifd, ${foreign.length} other interfaces)` : '';
    throw new LimitExceededError(`asks for ${interfaceCount} VIFs${others}; the limit is ${limit.limit} (${limitSource(limit)})`, context);
  }
  // Explicit MACs of this VM are reserved first so a derived MAC never takes one.
  const taken = new Set(intents.flatMap((intent) => (intent.mac === undefined ? [] : [intent.mac.toLowerCase()])));
  const isTaken: TakenMacs = { userOf: (mac) => macUser(mac) ?? (taken.has(mac) ? SELF : null), add: (mac) => { taken.add(mac); } };
  const vifs = intents.map((intent) => withErrorContext({ ...context, vifIndex: intent.index }, () => planTapVif(domain, intent, settings, isTaken)));
  const otherInterfaces: LibvirtOvsVifPlan[] = [];
  const warnings: string[] = [];
  foreign.forEach((definition) => {
    if (definition.type === 'bridge' && definition.virtualport === 'openvswitch' && definition.sourceBridge !== undefined) {
      const vlan = withErrorContext({ ...context, field: 'vlan' }, () => libvirtVlan(definition));
      otherInterfaces.push({ kind: 'libvirt-ovs', bridge: definition.sourceBridge, vlan,
        ...(definition.targetDev === undefined ? {} : { device: definition.targetDev }), ...(definition.mac === undefined ? {} : { mac: definition.mac }) });
    } else {
      warnings.push(`interface type=${JSON.stringify(definition.type)}${definition.mac === undefined ? '' : ` mac ${definition.mac}`} is not managed by vifd; it counts toward the VIF limit`);
    }
  });
  return { vm: { name: domain.name, uuid: domain.uuid }, limit, vifs, otherInterfaces, warnings, interfaceCount };
}

const limitSource = (limit: VifLimit): string =>
  ({ vm: "the VM's own override", host: 'host default', builtin: "vifd's default, as Xen's" })[limit.source];


/** Refuses a definition whose rendered interfaces do not match its plan (all problems in one message). */
export function assertRenderedAsPlanned(domain: DomainDefinition, plan: DomainPlan): void {
  const problems = renderedInterfaceProblems(domain, plan);
  if (problems.length > 0) throw new InvalidInputError(problems.join('; '), { domain: domain.name, vmUuid: domain.uuid });
}

/** Problems with a definition's rendered interfaces, e.g. at libvirt's prepare. */
export function renderedInterfaceProblems(domain: DomainDefinition, plan: DomainPlan): string[] {
  return plan.vifs.flatMap((vif) => {
    const rendered = domain.interfaces.find((definition) => definition.targetDev === vif.device);
    if (rendered === undefined) return [`VIF ${vif.index}: no <interface> with target dev '${vif.device}' (define the VM with vifctl so it is rendered)`];
    const problems: string[] = [];
    if (rendered.type !== 'ethernet') problems.push(`VIF ${vif.index}: interface ${vif.device} is type=${JSON.stringify(rendered.type)}, expected ethernet`);
    if (rendered.managed !== 'no') problems.push(`VIF ${vif.index}: interface ${vif.device} needs <target managed='no'/> (vifd creates the TAP)`);
    if (rendered.mac?.toLowerCase() !== vif.mac) problems.push(`VIF ${vif.index}: interface ${vif.device} has MAC ${rendered.mac ?? 'none'}, planned ${vif.mac}`);
    return problems;
  });
}
