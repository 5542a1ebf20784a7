// The vifd-owned ports of a replica, kept current row by row as monitor
// updates arrive: a plug on a host with thousands of ports costs the rows it
// touched, not a pass over every port. One index per replica (OwnedPortIndex.of),
// so the planner, the client's owner and the benches share it.
import { setElements, stringMap, uuidOf } from './datum.js';
import { readOwnedPort } from './port-columns.js';
import type { OwnedPort } from './port-columns.js';
import { EXTERNAL_ID, OWNER_VALUE } from './port-spec.js';
import type { Replica, ReplicaListener, ReplicaRow, RowChange } from './replica.js';

/** What the engine asks of the owned ports. */
export interface OwnedPortView {
  /** Every vifd-owned port, order unspecified. */
  all(): readonly OwnedPort[];
  /** Owned ports whose Interface external_ids vm-uuid = vmUuid. */
  ofVm(vmUuid: string): readonly OwnedPort[];
  byName(name: string): OwnedPort | undefined;
  /** vm-uuids of owned ports whose attached-mac = mac (compared in lower case), of those `which` keeps. */
  macUsers(mac: string, which?: (port: OwnedPort) => boolean): readonly string[];
}

/** An owned port with the row UUIDs a planner needs to change it. */
export interface LocatedPort {
  readonly port: OwnedPort;
  readonly portUuid: string;
  readonly ifaceUuid: string | null;
  readonly bridgeUuid: string | null;
}

export const isOwnedRow = (row: ReplicaRow | undefined): boolean => stringMap(row?.external_ids)[EXTERNAL_ID.owner] === OWNER_VALUE;

const refsOf = (datum: unknown): string[] => setElements(datum).map(uuidOf).filter((ref): ref is string => ref !== null);

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const members = index.get(key);
  if (members === undefined) index.set(key, new Set([value]));
  else members.add(value);
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const members = index.get(key);
  members?.delete(value);
  if (members?.size === 0) index.delete(key);
}

export class OwnedPortIndex implements OwnedPortView, ReplicaListener {
  private static readonly attached = new WeakMap<Replica, OwnedPortIndex>();

  /** The index of `replica`, made (one pass over its rows) the first time and kept current after. */
  static of(replica: Replica): OwnedPortIndex {
    let index = OwnedPortIndex.attached.get(replica);
    if (index === undefined) {
      index = new OwnedPortIndex(replica);
      OwnedPortIndex.attached.set(replica, index);
      replica.subscribe(index);
      index.load();
    }
    return index;
  }

  /** Every port's bridge (owned or not): a Bridge row carries only the set of its ports. */
  private readonly bridgeOfPort = new Map<string, string>();
  /** Each bridge's ports, so an update2 diff (a few toggled ports) is applied without walking the set. */
  private readonly bridgePorts = new Map<string, Set<string>>();
  private readonly portOfIface = new Map<string, string>();
  private readonly owned = new Map<string, LocatedPort>();
  private readonly names = new Map<string, string>();
  private readonly vms = new Map<string, Set<string>>();
  private readonly macs = new Map<string, Set<string>>();
  private everyPort: readonly OwnedPort[] | null = null;
  /** Ports re-read since the index was made; for tests and benches (proof of incremental work). */
  refreshed = 0;

  private constructor(private readonly replica: Replica) {}

  private load(): void {
    const rows = (table: string): RowChange[] => [...this.replica.rows(table)].map(([uuid, row]) => ({ table, uuid, before: undefined, after: row }));
    this.changed([...rows('Bridge'), ...rows('Port')]);
  }

  reset(): void {
    for (const index of [this.bridgeOfPort, this.bridgePorts, this.portOfIface, this.owned, this.names, this.vms, this.macs]) index.clear();
    this.everyPort = null;
  }

  changed(changes: readonly RowChange[]): void {
    const touched = new Set<string>();
    for (const change of changes) {
      if (change.table === 'Bridge') this.bridgeChanged(change, touched);
      else if (change.table === 'Port') this.portChanged(change, touched);
      else if (change.table === 'Interface') {
        const port = this.portOfIface.get(change.uuid);
        if (port !== undefined) touched.add(port);
      }
    }
    for (const port of touched) this.refresh(port);
  }

  private bridgeChanged(change: RowChange, touched: Set<string>): void {
    const renamed = change.before?.name !== change.after?.name;
    // A modify that left `ports` alone keeps the same value: nothing to walk.
    if (!renamed && change.before?.ports === change.after?.ports) return;
    const members = this.bridgePorts.get(change.uuid) ?? new Set<string>();
    const toggled = change.toggled?.ports;
    if (toggled !== undefined && !renamed && change.after !== undefined) {
      for (const port of refsOf(['set', toggled])) this.toggle(change.uuid, members, port, !members.has(port), touched);
      return;
    }
    const after = new Set(refsOf(change.after?.ports));
    for (const port of members) if (!after.has(port) || renamed) this.toggle(change.uuid, members, port, false, touched);
    for (const port of after) if (!members.has(port)) this.toggle(change.uuid, members, port, true, touched);
    if (change.after === undefined) this.bridgePorts.delete(change.uuid);
  }

  private toggle(bridge: string, members: Set<string>, port: string, present: boolean, touched: Set<string>): void {
    touched.add(port);
    if (present) {
      members.add(port);
      this.bridgePorts.set(bridge, members);
      this.bridgeOfPort.set(port, bridge);
    } else {
      members.delete(port);
      if (this.bridgeOfPort.get(port) === bridge) this.bridgeOfPort.delete(port);
    }
  }

  private portChanged(change: RowChange, touched: Set<string>): void {
    if (change.before?.interfaces !== change.after?.interfaces) {
      for (const iface of refsOf(change.before?.interfaces)) if (this.portOfIface.get(iface) === change.uuid) this.portOfIface.delete(iface);
      for (const iface of refsOf(change.after?.interfaces)) this.portOfIface.set(iface, change.uuid);
    }
    touched.add(change.uuid);
  }

  /** Re-reads one port from the replica into every lookup. */
  private refresh(portUuid: string): void {
    this.refreshed++;
    const old = this.owned.get(portUuid);
    if (old !== undefined) this.forget(portUuid, old.port);
    const row = this.replica.row('Port', portUuid);
    if (row === undefined || !isOwnedRow(row)) return;
    const ifaceUuid = refsOf(row.interfaces)[0] ?? null;
    const bridgeUuid = this.bridgeOfPort.get(portUuid) ?? null;
    const bridgeName = bridgeUuid === null ? undefined : this.replica.row('Bridge', bridgeUuid)?.name;
    const port = readOwnedPort(row, ifaceUuid === null ? undefined : this.replica.row('Interface', ifaceUuid), typeof bridgeName === 'string' ? bridgeName : null);
    this.owned.set(portUuid, { port, portUuid, ifaceUuid, bridgeUuid });
    this.names.set(port.name, portUuid);
    const vm = port.externalIds[EXTERNAL_ID.vmUuid];
    if (vm !== undefined) addTo(this.vms, vm, portUuid);
    const mac = port.externalIds[EXTERNAL_ID.attachedMac];
    if (mac !== undefined) addTo(this.macs, mac.toLowerCase(), portUuid);
    this.everyPort = null;
  }

  private forget(portUuid: string, port: OwnedPort): void {
    this.owned.delete(portUuid);
    if (this.names.get(port.name) === portUuid) this.names.delete(port.name);
    const vm = port.externalIds[EXTERNAL_ID.vmUuid];
    if (vm !== undefined) removeFrom(this.vms, vm, portUuid);
    const mac = port.externalIds[EXTERNAL_ID.attachedMac];
    if (mac !== undefined) removeFrom(this.macs, mac.toLowerCase(), portUuid);
    this.everyPort = null;
  }

  all(): readonly OwnedPort[] {
    this.everyPort ??= [...this.owned.values()].map((entry) => entry.port);
    return this.everyPort;
  }

  ofVm(vmUuid: string): readonly OwnedPort[] {
    return [...this.vms.get(vmUuid) ?? []].flatMap((uuid) => this.owned.get(uuid)?.port ?? []);
  }

  byName(name: string): OwnedPort | undefined {
    return this.located(name)?.port;
  }

  located(name: string): LocatedPort | undefined {
    const uuid = this.names.get(name);
    return uuid === undefined ? undefined : this.owned.get(uuid);
  }

  macUsers(mac: string, which: (port: OwnedPort) => boolean = () => true): readonly string[] {
    const users = new Set<string>();
    for (const uuid of this.macs.get(mac.toLowerCase()) ?? []) {
      const port = this.owned.get(uuid)?.port;
      const vm = port?.externalIds[EXTERNAL_ID.vmUuid];
      if (port !== undefined && vm !== undefined && which(port)) users.add(vm);
    }
    return [...users];
  }
}
