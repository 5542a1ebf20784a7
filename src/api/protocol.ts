// The control socket's protocol: each method vifd serves, the params it takes
// and the result it answers, exactly as they travel as JSON. vifctl and the
// hooks type their calls with these shapes; the daemon validates params with
// the parsers here (params are untrusted local input) and its handlers must
// answer these results, so neither side needs the other's internal types.
// Params are type aliases, not interfaces: only those are JSON-RPC params
// (an object with an index signature) to the type checker.
import type { Drift } from '../model/drift.js';
import { InvalidInputError } from '../model/errors.js';
import { XEN_HOTPLUG_METHOD, parseXenHotplugRequest } from '../sources/xen-hotplug/protocol.js';
import type { XenHotplugRequest, XenHotplugResult } from '../sources/xen-hotplug/protocol.js';

/** What `vifctl status` shows of a VIF; orphans have no VM (domain, uuid, index are null). */
export type VifState = 'ok' | 'drift' | 'missing' | 'orphan' | 'detaching';
export const VIF_STATES: readonly VifState[] = ['ok', 'drift', 'missing', 'orphan', 'detaching'];

/** One row of `status` and of `gc`'s orphans. */
export interface VifStatusRow {
  readonly domain: string | null;
  readonly uuid: string | null;
  readonly index: number | null;
  readonly network: string | null;
  readonly device: string;
  readonly mac: string | null;
  readonly bridge: string | null;
  /** describeVlan's text: "access 100", "trunk 200-202", "untagged"... */
  readonly vlan: string;
  readonly tag: number | null;
  readonly trunks: readonly number[];
  readonly mtu: number | null;
  /** The VIF kind: a TAP vifd made, a Xen device (netback's vifD.N) vifd plugged, or an SR-IOV VF. */
  readonly kind: 'tap' | 'netback' | 'sriov-vf';
  /** An SR-IOV VIF's VF: its address, PF, index there and pool state. */
  readonly vf?: VfStatusRow;
  readonly state: VifState;
  /** What differs, field by field: { field, wanted, seen } (a TAP property, an OVSDB column, an external_ids key). */
  readonly drift: readonly Drift[];
  /** The same for people, plus why an orphan or a detaching VIF is one. */
  readonly problems: readonly string[];
  readonly ofport: number | null;
  /** Who wants the VIF, when vifd knows more than its kind says: "xapi" for a VIF of an XAPI VM. */
  readonly source?: 'xapi';
  /** XAPI's record of the VIF (XAPI hosts). */
  readonly xapi?: XapiVifStatus;
}

/** An XAPI VIF as XAPI holds it, beside what vifd plugged. */
export interface XapiVifStatus {
  readonly vifUuid: string;
  /** The network's name_label and uuid. */
  readonly network: string;
  readonly networkUuid: string;
  readonly currentlyAttached: boolean;
}

/** One XAPI VM this host's vifd speaks for: its VIF count against its limit, and what vifd blocked. */
export interface XapiVmStatusRow {
  readonly uuid: string;
  readonly name: string;
  readonly vifCount: number;
  readonly limit: number | null;
  /** vm (VM.other_config:vifd-vif-limit), host or builtin. */
  readonly limitSource: string | null;
  readonly limitProblem: string | null;
  /** MACs of this VM another VM of the pool keeps. */
  readonly duplicateMacs: readonly string[];
  /** The blocked_operations reason vifd set (start, start_on, resume, pool_migrate), or null. */
  readonly blocked: string | null;
  /** XAPI's own VM.get_allowed_VIF_devices; null before vifd asked. */
  readonly allowedVifDevices: readonly string[] | null;
}

export interface XapiStatus {
  /** The event watcher: starting, synced, recovering or stopped. */
  readonly state: string;
  readonly hostUuid: string;
  readonly vms: readonly XapiVmStatusRow[];
  /** Every MAC more than one VIF of the pool has; the first user keeps it. */
  readonly duplicateMacs: readonly { readonly mac: string; readonly users: readonly { readonly vmUuid: string; readonly vmName: string; readonly vifUuid: string; readonly device: number | null }[] }[];
}

export type NoParams = Readonly<Record<string, never>>;
export interface PingResult { readonly ok: true }

/** prepare and release: the domain XML libvirt handed to its hook. */
export type DomainXmlParams = { readonly xml: string };
export interface PreparedVifRow {
  readonly index: number;
  readonly device: string;
  readonly mac: string;
  readonly bridge: string;
}
export interface PrepareResult {
  readonly domain: string;
  readonly uuid: string;
  readonly vifs: readonly PreparedVifRow[];
  readonly warnings: readonly string[];
}
export interface ReleaseResult { readonly removed: number }

/** One VF of an SR-IOV network's pool (`vifctl status`: every VF, held or not). */
export interface VfStatusRow {
  readonly network?: string;
  readonly address: string;
  readonly pf: string;
  readonly pfName: string;
  readonly index: number;
  /** free, reserved, attached, releasing, quarantined or foreign (and why, for the last two). */
  readonly state: string;
  readonly owner?: { readonly uuid: string; readonly index: number };
  readonly reason?: string;
  readonly present?: boolean;
}

/** One PF of an SR-IOV network: its link (sysfs operstate and carrier; carrier null while the PF is down). */
export interface PfStatusRow {
  readonly network: string;
  readonly pf: string;
  readonly pfName: string;
  readonly operstate: string;
  readonly carrier: boolean | null;
  /** operstate up (or unknown with carrier): VF settings are applied only then. */
  readonly up: boolean;
}

export interface StatusResult {
  readonly vifs: readonly VifStatusRow[];
  /** On hosts with an `xapi:` block. */
  readonly xapi?: XapiStatus;
  /** Every VF of every SR-IOV network (absent when the host has none). */
  readonly vfs?: readonly VfStatusRow[];
  /** Every PF of every SR-IOV network and its link (absent when the host has none). */
  readonly pfs?: readonly PfStatusRow[];
}

/**
 * `vifctl define`: a VF for each SR-IOV VIF of one VM, chosen by the pool's
 * rule and reserved for nobody (the VM is defined, not started). `vf`: the VF
 * the definition records (checked to be in the pool); `previous`: the one its
 * earlier definition had; `recorded`: VFs other VMs' definitions record, by VF
 * address, with who records it.
 */
export type ChooseVfsParams = {
  readonly uuid: string;
  /** The VM's name, for the refusals. */
  readonly name?: string;
  readonly vifs: readonly { readonly index: number; readonly network: string; readonly vf?: string; readonly previous?: string }[];
  readonly recorded?: Readonly<Record<string, string>>;
};
export interface ChosenVfRow {
  readonly index: number;
  readonly network: string;
  readonly address: string;
  readonly pfName: string;
  readonly vf: number;
  /** recorded (the definition's, checked), held (the running VM has it), previous, or chosen. */
  readonly how: string;
  /** Who else has the VF ("recorded by VM ... (no other VF was free)", "in use by running VM ..."): the two cannot run at the same time. */
  readonly sharedWith?: string;
}
export interface ChooseVfsResult { readonly vfs: readonly ChosenVfRow[] }

export type GcParams = { readonly dryRun?: boolean };
export interface GcResult {
  readonly dryRun: boolean;
  readonly orphans: readonly VifStatusRow[];
}

export interface ReconcileResult { readonly domains: number }

/** `domain` is a VM name or UUID. */
export type AttachParams = {
  readonly domain: string;
  readonly network: string;
  readonly mac?: string;
  readonly vlan?: string;
};
export interface AttachResult {
  readonly domain: string;
  readonly uuid: string;
  readonly index: number;
  readonly device: string;
  readonly mac: string;
  readonly bridge: string;
  readonly vlan: string;
  /** Also changed in the persistent definition. */
  readonly persistent: boolean;
}

/** Exactly one of index and mac names the VIF. */
export type DetachParams = { readonly domain: string } & ({ readonly index: number; readonly mac?: never } | { readonly mac: string; readonly index?: never });
export interface DetachResult extends AttachResult {
  /** removed: the guest released it and the TAP and port are gone; pending: libvirt still waits for the guest. */
  readonly state: 'removed' | 'pending';
}

export type ConnectionState = 'connected' | 'connecting' | 'disconnected';
/** libvirtd's: 'not used' on a host configured without it (libvirt.enabled: false). */
export type LibvirtState = ConnectionState | 'not used';
export interface NetworkInfoRow {
  readonly name: string;
  readonly bridge: string;
  readonly vlan: string;
  readonly mtu: number | null;
  /** null when that cannot be known (OVSDB not connected). */
  readonly bridgeExists: boolean | null;
}
export interface InfoResult {
  readonly version: string;
  readonly node: string;
  readonly pid: number;
  /** ISO 8601, UTC. */
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly hypervisor: 'kvm' | 'xen';
  readonly controlSocket: string;
  readonly libvirt: { readonly uri: string; readonly state: LibvirtState };
  readonly ovsdb: { readonly socket: string; readonly state: ConnectionState };
  readonly metrics: { readonly listen: string };
  readonly networks: readonly NetworkInfoRow[];
  /** VIFs by state; states with none are left out. */
  readonly vifs: Readonly<Record<string, number>>;
}

/** The Xen hook's request as JSON-RPC params (an interface has no index signature; the request is plain JSON all the same). */
export type XenHotplugParams = XenHotplugRequest & Readonly<Record<string, unknown>>;

/** Every method: its params and its result. */
export interface ControlProtocol {
  ping: { params: NoParams; result: PingResult };
  prepare: { params: DomainXmlParams; result: PrepareResult };
  release: { params: DomainXmlParams; result: ReleaseResult };
  status: { params: NoParams; result: StatusResult };
  gc: { params: GcParams; result: GcResult };
  reconcile: { params: NoParams; result: ReconcileResult };
  attach: { params: AttachParams; result: AttachResult };
  detach: { params: DetachParams; result: DetachResult };
  info: { params: NoParams; result: InfoResult };
  'choose-vfs': { params: ChooseVfsParams; result: ChooseVfsResult };
  /** The Xen vif hotplug hook's one call (sources/xen-hotplug/protocol.ts). */
  [XEN_HOTPLUG_METHOD]: { params: XenHotplugParams; result: XenHotplugResult };
}
export type ControlMethod = keyof ControlProtocol;
export type ParamsOf<M extends ControlMethod> = ControlProtocol[M]['params'];
export type ResultOf<M extends ControlMethod> = ControlProtocol[M]['result'];

/** A handler for each method, as the daemon registers them: raw params in, the method's result out. */
export type MethodHandlers<M extends ControlMethod = ControlMethod> = { readonly [K in M]: (params: unknown) => Promise<ResultOf<K>> };

function field<T>(params: unknown, name: string, check: (value: unknown) => value is T, what: string): T {
  const value = typeof params === 'object' && params !== null ? (params as Record<string, unknown>)[name] : undefined;
  if (!check(value)) throw new InvalidInputError(`expected ${what}`, { field: name });
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isOptionalBoolean = (value: unknown): value is boolean | undefined => value === undefined || typeof value === 'boolean';
const isOptionalString = (value: unknown): value is string | undefined => value === undefined || typeof value === 'string';
const isOptionalIndex = (value: unknown): value is number | undefined => value === undefined || (typeof value === 'number' && Number.isInteger(value));

/** Methods without params ignore whatever they are sent, as they always have. */
const noParams = (): NoParams => ({});
const domainXml = (params: unknown): DomainXmlParams => ({ xml: field(params, 'xml', isString, 'the domain XML as a string') });

function attach(params: unknown): AttachParams {
  const mac = field(params, 'mac', isOptionalString, 'mac as a string');
  const vlan = field(params, 'vlan', isOptionalString, 'vlan as a string');
  return {
    domain: field(params, 'domain', isString, 'the domain name or UUID'),
    network: field(params, 'network', isString, 'the network name'),
    ...(mac === undefined ? {} : { mac }), ...(vlan === undefined ? {} : { vlan }),
  };
}

function detach(params: unknown): DetachParams {
  const index = field(params, 'index', isOptionalIndex, 'index as an integer');
  const mac = field(params, 'mac', isOptionalString, 'mac as a string');
  if ((index === undefined) === (mac === undefined)) throw new InvalidInputError('give exactly one of index and mac', { field: 'index' });
  const domain = field(params, 'domain', isString, 'the domain name or UUID');
  return index === undefined ? { domain, mac: mac ?? '' } : { domain, index };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isVfRequest = (value: unknown): boolean => isRecord(value) && Number.isInteger(value.index) && isString(value.network)
  && isOptionalString(value.vf) && isOptionalString(value.previous);
const isVfRequests = (value: unknown): value is ChooseVfsParams['vifs'] => Array.isArray(value) && value.every(isVfRequest);
const isRecorded = (value: unknown): value is ChooseVfsParams['recorded'] => value === undefined || (isRecord(value) && Object.values(value).every(isString));

/** Addresses are checked where they are used (parsePciAddress); here only the shapes. */
function chooseVfs(params: unknown): ChooseVfsParams {
  const recorded = field(params, 'recorded', isRecorded, 'recorded as an object of VF address to text');
  const name = field(params, 'name', isOptionalString, 'name as a string');
  return {
    uuid: field(params, 'uuid', isString, 'the VM UUID'),
    ...(name === undefined ? {} : { name }),
    vifs: field(params, 'vifs', isVfRequests, 'vifs as a list of { index, network, vf?, previous? }'),
    ...(recorded === undefined ? {} : { recorded }),
  };
}

function gc(params: unknown): GcParams {
  const dryRun = field(params, 'dryRun', isOptionalBoolean, 'dryRun as a boolean');
  return dryRun === undefined ? {} : { dryRun };
}

/**
 * The validating parser of each method's params: the params as typed, or an
 * InvalidInputError naming the field. The order of the checks is the order in
 * which errors are reported, kept as the daemon has always reported them.
 */
export const PARAMS: { readonly [M in ControlMethod]: (params: unknown) => ParamsOf<M> } = {
  ping: noParams, prepare: domainXml, release: domainXml, status: noParams, gc, reconcile: noParams, attach, detach, info: noParams, 'choose-vfs': chooseVfs,
  [XEN_HOTPLUG_METHOD]: (params) => parseXenHotplugRequest(params) as XenHotplugParams,
};

export const CONTROL_METHODS = Object.keys(PARAMS) as readonly ControlMethod[];

/** attach's params as hot-plug takes them: the VM, and what to plug into it. */
export function attachParams(params: unknown): { domain: string; request: Omit<AttachParams, 'domain'> } {
  const { domain, ...request } = PARAMS.attach(params);
  return { domain, request };
}

/** detach's params as hot-plug takes them: the VM, and which VIF (by index or MAC). */
export function detachParams(params: unknown): { domain: string; which: { index?: number; mac?: string } } {
  const { domain, ...which } = PARAMS.detach(params);
  return { domain, which };
}
