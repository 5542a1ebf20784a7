// Planning VIF port changes (pure): from a desired port and the replica, the
// operations that make OVSDB match, or none when it already does. A changed
// request updates only the columns that differ; a port vifd does not own is
// never changed (design invariant 1: ownership lives in external_ids).
import { InvalidInputError, VifdError } from '../../model/errors.js';
import { assertValidInterfaceName } from '../../model/names.js';
import type { VlanSettings } from '../../model/vlan.js';
import { emptySet, integerSet, map, namedUuid, optionalInteger, optionalString, set, setElements, stringMap, uuid, uuidOf } from './datum.js';
import type { Datum, Ref } from './datum.js';
import { byUuid } from './operations.js';
import type { Operation, Row } from './operations.js';
import type { Replica, ReplicaRow } from './replica.js';

/** external_ids keys: vifd's own, and those OVN/Neutron read (iface-id, attached-mac, iface-status, vm-uuid). */
export const EXTERNAL_ID = {
  owner: 'vifd:owner',
  vifIndex: 'vifd:vif-index',
  vmUuid: 'vm-uuid',
  attachedMac: 'attached-mac',
  ifaceId: 'iface-id',
  ifaceStatus: 'iface-status',
  /** The host network a VIF was planned on (for status after a restart). */
  network: 'vifd:network',
} as const;
export const OWNER_VALUE = 'vifd';

/** Columns the planner reads; monitor at least these. */
export const PORT_MONITOR = {
  Bridge: ['name', 'ports'],
  Port: ['name', 'interfaces', 'tag', 'trunks', 'vlan_mode', 'external_ids'],
  // admin_state and link_state change when a device vanishes under its port: the engine's cue to look for drift.
  Interface: ['name', 'type', 'mtu_request', 'ingress_policing_rate', 'ingress_policing_burst', 'external_ids', 'ofport', 'error', 'admin_state', 'link_state'],
} as const;

export interface IngressPolicing {
  readonly rateKbps: number;
  readonly burstKb: number;
}

export interface VifPortSpec {
  readonly bridge: string;
  /** Port and Interface name: the TAP's device name. */
  readonly name: string;
  /** OVS interface type; '' (a system device such as a TAP) by default. */
  readonly interfaceType?: string;
  readonly vlan: VlanSettings;
  readonly mtuRequest?: number;
  readonly ingressPolicing?: IngressPolicing;
  /** vifd's and OVN's keys; the owner marker is added by the planner. */
  readonly externalIds: Readonly<Record<string, string>>;
}

export class UnknownBridgeError extends VifdError {
  readonly code = 'unknown-bridge';
}

export class NotOwnedError extends VifdError {
  readonly code = 'not-owned';
}

export interface VifIdentity {
  readonly vmUuid: string;
  readonly index: number;
  readonly mac: string;
  /** OVN logical port id; defaults to the VM UUID and index. */
  readonly ifaceId?: string;
}

export function vifExternalIds(vif: VifIdentity): Record<string, string> {
  return {
    [EXTERNAL_ID.vmUuid]: vif.vmUuid,
    [EXTERNAL_ID.vifIndex]: String(vif.index),
    [EXTERNAL_ID.attachedMac]: vif.mac,
    [EXTERNAL_ID.ifaceId]: vif.ifaceId ?? `${vif.vmUuid}/${vif.index}`,
    [EXTERNAL_ID.ifaceStatus]: 'active',
  };
}

const isOwned = (row: ReplicaRow | undefined): boolean => stringMap(row?.external_ids)[EXTERNAL_ID.owner] === OWNER_VALUE;

function desiredPortColumns(spec: VifPortSpec): Record<string, Datum> {
  const vlan = spec.vlan;
  const tag = vlan.mode === 'access' || vlan.mode === 'native-tagged' || vlan.mode === 'native-untagged' ? vlan.tag : undefined;
  const trunks = vlan.mode === 'trunk' || ((vlan.mode === 'native-tagged' || vlan.mode === 'native-untagged') && vlan.trunks) ? vlan.trunks ?? [] : [];
  return {
    tag: tag === undefined ? emptySet : tag,
    trunks: set(trunks),
    vlan_mode: vlan.mode === 'none' ? emptySet : vlan.mode,
    external_ids: map({ [EXTERNAL_ID.owner]: OWNER_VALUE, [EXTERNAL_ID.vmUuid]: spec.externalIds[EXTERNAL_ID.vmUuid] ?? '' }),
  };
}

function desiredInterfaceColumns(spec: VifPortSpec): Record<string, Datum> {
  return {
    type: spec.interfaceType ?? '',
    mtu_request: spec.mtuRequest === undefined ? emptySet : spec.mtuRequest,
    ingress_policing_rate: spec.ingressPolicing?.rateKbps ?? 0,
    ingress_policing_burst: spec.ingressPolicing?.burstKb ?? 0,
    external_ids: map({ ...spec.externalIds, [EXTERNAL_ID.owner]: OWNER_VALUE }),
  };
}

/** Canonical comparable form of a column value, whatever encoding the server used. */
function canonical(column: string, value: unknown): string {
  if (column === 'external_ids') return JSON.stringify(Object.entries(stringMap(value)).sort(([a], [b]) => a.localeCompare(b)));
  if (column === 'trunks') return JSON.stringify(integerSet(value));
  if (column === 'tag' || column === 'mtu_request') return JSON.stringify(optionalInteger(value));
  if (column === 'vlan_mode') return JSON.stringify(optionalString(value));
  return JSON.stringify(setElements(value)[0] ?? null);
}

function changedColumns(desired: Record<string, Datum>, current: ReplicaRow): Row {
  return Object.fromEntries(Object.entries(desired).filter(([column, value]) => canonical(column, value) !== canonical(column, current[column])));
}

function validate(spec: VifPortSpec): void {
  assertValidInterfaceName(spec.bridge, 'bridge');
  assertValidInterfaceName(spec.name, 'port');
  if (spec.mtuRequest !== undefined && !(Number.isInteger(spec.mtuRequest) && spec.mtuRequest >= 68 && spec.mtuRequest <= 65535)) {
    throw new InvalidInputError(`${String(spec.mtuRequest)} is outside 68-65535`, { field: 'mtu' });
  }
  const policing = spec.ingressPolicing;
  if (policing !== undefined && ![policing.rateKbps, policing.burstKb].every((n) => Number.isInteger(n) && n >= 0)) {
    throw new InvalidInputError('ingress policing rate and burst must be integers >= 0', { field: 'ingress_policing' });
  }
}

/** A view derived from the replica, rebuilt only when the replica has changed since. */
function cachedView<T>(cache: WeakMap<Replica, { version: number; value: T }>, replica: Replica, build: () => T): T {
  const hit = cache.get(replica);
  if (hit?.version === replica.version) return hit.value;
  const value = build();
  cache.set(replica, { version: replica.version, value });
  return value;
}

const portBridges = new WeakMap<Replica, { version: number; value: ReadonlyMap<string, { uuid: string; row: ReplicaRow }> }>();

/** The bridge that holds a port (by Port uuid), if any; one pass over the bridges per replica change. */
function bridgeOf(replica: Replica, portUuid: string): { uuid: string; row: ReplicaRow } | undefined {
  return cachedView(portBridges, replica, () => {
    const index = new Map<string, { uuid: string; row: ReplicaRow }>();
    for (const [bridgeUuid, row] of replica.rows('Bridge')) {
      for (const ref of setElements(row.ports)) {
        const port = uuidOf(ref);
        if (port !== null) index.set(port, { uuid: bridgeUuid, row });
      }
    }
    return index;
  }).get(portUuid);
}

/** Operations that make the port match `spec`; [] when it already does. */
export function planEnsurePort(spec: VifPortSpec, replica: Replica): Operation[] {
  validate(spec);
  const bridge = replica.byName('Bridge', spec.bridge);
  if (bridge === undefined) throw new UnknownBridgeError(`bridge ${JSON.stringify(spec.bridge)} does not exist`, { field: 'bridge' });
  const port = replica.byName('Port', spec.name);
  if (port === undefined) return planInsert(spec, bridge.uuid);
  const ifaceUuid = uuidOf(setElements(port.row.interfaces)[0]);
  const iface = ifaceUuid === null ? undefined : replica.row('Interface', ifaceUuid);
  if (!isOwned(port.row) || !isOwned(iface)) {
    throw new NotOwnedError(`port ${JSON.stringify(spec.name)} exists and is not owned by vifd; leaving it alone`, { field: 'port' });
  }
  const operations: Operation[] = [];
  const portChanges = changedColumns(desiredPortColumns(spec), port.row);
  if (Object.keys(portChanges).length > 0) operations.push({ op: 'update', table: 'Port', where: [byUuid(port.uuid)], row: portChanges });
  const ifaceChanges = iface === undefined || ifaceUuid === null ? {} : changedColumns(desiredInterfaceColumns(spec), iface);
  if (ifaceUuid !== null && Object.keys(ifaceChanges).length > 0) {
    operations.push({ op: 'update', table: 'Interface', where: [byUuid(ifaceUuid)], row: ifaceChanges });
  }
  const current = bridgeOf(replica, port.uuid);
  if (current?.uuid !== bridge.uuid) {
    // Moved to another bridge: re-parent the same rows instead of delete-and-add.
    if (current !== undefined) operations.push(mutatePorts(current.uuid, 'delete', uuid(port.uuid)));
    operations.push(mutatePorts(bridge.uuid, 'insert', uuid(port.uuid)));
  }
  return operations;
}

const mutatePorts = (bridgeUuid: string, mutator: 'insert' | 'delete', port: Ref): Operation =>
  ({ op: 'mutate', table: 'Bridge', where: [byUuid(bridgeUuid)], mutations: [['ports', mutator, set([port])]] });

function planInsert(spec: VifPortSpec, bridgeUuid: string): Operation[] {
  // Named uuids are per transaction; the port name keeps them unique within a batch.
  const ifaceName = `iface_${spec.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const portName = `port_${spec.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  return [
    { op: 'insert', table: 'Interface', 'uuid-name': ifaceName, row: { name: spec.name, ...desiredInterfaceColumns(spec) } },
    { op: 'insert', table: 'Port', 'uuid-name': portName, row: { name: spec.name, interfaces: namedUuid(ifaceName), ...desiredPortColumns(spec) } },
    mutatePorts(bridgeUuid, 'insert', namedUuid(portName)),
  ];
}

/** Operations that remove a vifd-owned port; [] when it is already gone. */
export function planRemovePort(name: string, replica: Replica): Operation[] {
  assertValidInterfaceName(name, 'port');
  const port = replica.byName('Port', name);
  if (port === undefined) return [];
  if (!isOwned(port.row)) throw new NotOwnedError(`port ${JSON.stringify(name)} is not owned by vifd; leaving it alone`, { field: 'port' });
  const bridge = bridgeOf(replica, port.uuid);
  // Port and Interface are not root tables: unreferenced, the server deletes them.
  return bridge === undefined ? [] : [mutatePorts(bridge.uuid, 'delete', uuid(port.uuid))];
}

export interface OwnedPort {
  readonly name: string;
  readonly bridge: string | null;
  readonly tag: number | null;
  readonly trunks: readonly number[];
  readonly vlanMode: string | null;
  readonly externalIds: Readonly<Record<string, string>>;
  readonly ofport: number | null;
  readonly error: string | null;
}

const ownedPorts = new WeakMap<Replica, { version: number; value: readonly OwnedPort[] }>();

/**
 * Every vifd-owned port with its state, for reconcile and GC. Derived once
 * per replica change, so the many looks of a busy moment (a GC of thousands,
 * concurrent starts) share one pass over the ports.
 */
export function listOwnedPorts(replica: Replica): readonly OwnedPort[] {
  return cachedView(ownedPorts, replica, () => {
    const owned: OwnedPort[] = [];
    for (const [portUuid, port] of replica.rows('Port')) {
      if (!isOwned(port)) continue;
      const ifaceUuid = uuidOf(setElements(port.interfaces)[0]);
      const iface = ifaceUuid === null ? undefined : replica.row('Interface', ifaceUuid);
      owned.push({
        name: String(port.name),
        bridge: (bridgeOf(replica, portUuid)?.row.name as string | undefined) ?? null,
        tag: optionalInteger(port.tag),
        trunks: integerSet(port.trunks),
        vlanMode: optionalString(port.vlan_mode),
        externalIds: stringMap(iface?.external_ids),
        ofport: optionalInteger(iface?.ofport),
        error: optionalString(iface?.error),
      });
    }
    return owned.sort((a, b) => a.name.localeCompare(b.name));
  });
}
