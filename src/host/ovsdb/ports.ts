// Planning VIF port changes (pure): from a desired port and the replica, the
// operations that make OVSDB match, or none when it already does. A changed
// request updates only the columns that differ; a port vifd does not own is
// never changed (design invariant 1: ownership lives in external_ids).
import { InvalidInputError, VifdError } from '../../model/errors.js';
import { assertValidInterfaceName } from '../../model/names.js';
import { map, namedUuid, set, setElements, uuid, uuidOf } from './datum.js';
import type { Ref } from './datum.js';
import { byUuid } from './operations.js';
import type { Operation } from './operations.js';
import { OwnedPortIndex, isOwnedRow } from './owned-ports.js';
import { changes, desiredColumns, insertRows, readOwnedPort } from './port-columns.js';
import type { OwnedPort, TableChange } from './port-columns.js';
import type { VifPortSpec } from './port-spec.js';
import type { Replica } from './replica.js';

export { EXTERNAL_ID, OWNER_VALUE, vifExternalIds } from './port-spec.js';
export type { IngressPolicing, VifIdentity, VifPortSpec } from './port-spec.js';
export { diffPort } from './port-columns.js';
export type { ColumnDrift, OwnedPort, WrittenColumns } from './port-columns.js';
export { OwnedPortIndex } from './owned-ports.js';
export type { OwnedPortView } from './owned-ports.js';

/** Columns the planner reads; monitor at least these. */
export const PORT_MONITOR = {
  Bridge: ['name', 'ports'],
  // fake_bridge: XAPI's VLAN networks name OVS fake bridges (fake-bridges.ts).
  Port: ['name', 'interfaces', 'tag', 'trunks', 'vlan_mode', 'external_ids', 'fake_bridge'],
  // admin_state and link_state change when a device vanishes under its port: the engine's cue to look for drift.
  Interface: ['name', 'type', 'mtu_request', 'ingress_policing_rate', 'ingress_policing_burst', 'external_ids', 'ofport', 'error', 'admin_state', 'link_state'],
} as const;

export class UnknownBridgeError extends VifdError {
  readonly code = 'unknown-bridge';
}

export class NotOwnedError extends VifdError {
  readonly code = 'not-owned';
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

/** Operations that make the port match `spec`; [] when it already does. */
export function planEnsurePort(spec: VifPortSpec, replica: Replica): Operation[] {
  validate(spec);
  const bridge = replica.byName('Bridge', spec.bridge);
  if (bridge === undefined) throw new UnknownBridgeError(`bridge ${JSON.stringify(spec.bridge)} does not exist`, { field: 'bridge' });
  const port = replica.byName('Port', spec.name);
  if (port === undefined) return planInsert(spec, bridge.uuid);
  const ifaceUuid = uuidOf(setElements(port.row.interfaces)[0]);
  const iface = ifaceUuid === null ? undefined : replica.row('Interface', ifaceUuid);
  if (!isOwnedRow(port.row) || !isOwnedRow(iface)) {
    throw new NotOwnedError(`port ${JSON.stringify(spec.name)} exists and is not owned by vifd; leaving it alone`, { field: 'port' });
  }
  const current = OwnedPortIndex.of(replica).located(spec.name)?.bridgeUuid ?? null;
  const currentName = current === null ? null : replica.row('Bridge', current)?.name;
  const seen = readOwnedPort(port.row, iface, typeof currentName === 'string' ? currentName : null);
  const wanted = changes(desiredColumns(spec), seen);
  const operations = [...rowOperations('Port', port.uuid, wanted.Port)];
  if (ifaceUuid !== null) operations.push(...rowOperations('Interface', ifaceUuid, wanted.Interface));
  if (wanted.bridgeMoved || current !== bridge.uuid) {
    // Moved to another bridge: re-parent the same rows instead of delete-and-add.
    if (current !== null) operations.push(mutatePorts(current, 'delete', uuid(port.uuid)));
    operations.push(mutatePorts(bridge.uuid, 'insert', uuid(port.uuid)));
  }
  return operations;
}

/** An update of the changed columns; the changed external_ids keys replaced one by one, foreign keys kept. */
function rowOperations(table: 'Port' | 'Interface', rowUuid: string, change: TableChange): Operation[] {
  const operations: Operation[] = [];
  if (Object.keys(change.row).length > 0) operations.push({ op: 'update', table, where: [byUuid(rowUuid)], row: change.row });
  const keys = Object.keys(change.ids).sort();
  if (keys.length > 0) {
    operations.push({ op: 'mutate', table, where: [byUuid(rowUuid)], mutations: [
      ['external_ids', 'delete', set(keys)],
      ['external_ids', 'insert', map(change.ids)],
    ] });
  }
  return operations;
}

const mutatePorts = (bridgeUuid: string, mutator: 'insert' | 'delete', port: Ref): Operation =>
  ({ op: 'mutate', table: 'Bridge', where: [byUuid(bridgeUuid)], mutations: [['ports', mutator, set([port])]] });

function planInsert(spec: VifPortSpec, bridgeUuid: string): Operation[] {
  // Named uuids are per transaction; the port name keeps them unique within a batch.
  const ifaceName = `iface_${spec.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const portName = `port_${spec.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const rows = insertRows(desiredColumns(spec));
  return [
    { op: 'insert', table: 'Interface', 'uuid-name': ifaceName, row: { name: spec.name, ...rows.Interface } },
    { op: 'insert', table: 'Port', 'uuid-name': portName, row: { name: spec.name, interfaces: namedUuid(ifaceName), ...rows.Port } },
    mutatePorts(bridgeUuid, 'insert', namedUuid(portName)),
  ];
}

/** Operations that remove a vifd-owned port; [] when it is already gone. */
export function planRemovePort(name: string, replica: Replica): Operation[] {
  assertValidInterfaceName(name, 'port');
  const port = replica.byName('Port', name);
  if (port === undefined) return [];
  if (!isOwnedRow(port.row)) throw new NotOwnedError(`port ${JSON.stringify(name)} is not owned by vifd; leaving it alone`, { field: 'port' });
  const bridge = OwnedPortIndex.of(replica).located(name)?.bridgeUuid ?? null;
  // Port and Interface are not root tables: unreferenced, the server deletes them.
  return bridge === null ? [] : [mutatePorts(bridge, 'delete', uuid(port.uuid))];
}

const sortedCopies = new WeakMap<readonly OwnedPort[], readonly OwnedPort[]>();

/**
 * Every vifd-owned port with its state, sorted by name. A thin wrapper over the
 * replica's OwnedPortIndex (kept current row by row); new code should use the
 * index's view directly (OvsdbClient.ownedPorts).
 */
export function listOwnedPorts(replica: Replica): readonly OwnedPort[] {
  const all = OwnedPortIndex.of(replica).all();
  let sorted = sortedCopies.get(all);
  if (sorted === undefined) {
    sorted = [...all].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    sortedCopies.set(all, sorted);
  }
  return sorted;
}
