// The one table of what vifd writes on a VIF's Port and Interface rows (pure).
// Everything that decides "does this port match" goes through it: the
// planner's insert rows and in-place updates (ports.ts), and diffPort, the
// structured drift the engine reports. A column added here is written,
// compared and repaired alike, so the two can never disagree.
// Foreign external_ids keys (ovn-controller's ovn-installed, an operator's
// note) are neither drift nor overwritten: only the keys vifd sets count.
import { emptySet, integerSet, map, optionalInteger, optionalString, set, stringMap } from './datum.js';
import type { Datum } from './datum.js';
import type { Row } from './operations.js';
import { EXTERNAL_ID, OWNER_VALUE } from './port-spec.js';
import type { IngressPolicing, VifPortSpec } from './port-spec.js';
import type { ReplicaRow } from './replica.js';

/** The columns vifd writes, typed, as wanted (from a spec) or as seen (from OVSDB). */
export interface WrittenColumns {
  readonly bridge: string | null;
  readonly tag: number | null;
  readonly trunks: readonly number[];
  readonly vlanMode: string | null;
  readonly interfaceType: string;
  readonly mtuRequest: number | null;
  readonly ingressPolicing: IngressPolicing;
  /** Port.external_ids. */
  readonly portExternalIds: Readonly<Record<string, string>>;
  /** Interface.external_ids. */
  readonly externalIds: Readonly<Record<string, string>>;
}

/** A vifd-owned port as OVSDB shows it: what vifd wrote plus ovs-vswitchd's read-only state. */
export interface OwnedPort extends WrittenColumns {
  readonly name: string;
  readonly ofport: number | null;
  readonly error: string | null;
}

/** One column (or one external_ids key) that differs; display strings, 'none' for absent. */
export interface ColumnDrift {
  readonly field: string;
  readonly wanted: string;
  readonly seen: string;
}

type Table = 'Port' | 'Interface';

interface ScalarColumn {
  readonly table: Table;
  readonly column: string;
  show(columns: WrittenColumns): string;
  datum(columns: WrittenColumns): Datum;
}

const optional = (value: number | string | null): string => (value === null ? 'none' : String(value));

/** Every non-map column vifd writes; the diff field is the column name. */
const SCALAR_COLUMNS: readonly ScalarColumn[] = [
  { table: 'Port', column: 'tag', show: (c) => optional(c.tag), datum: (c) => c.tag ?? emptySet },
  { table: 'Port', column: 'trunks', show: (c) => (c.trunks.length === 0 ? 'none' : c.trunks.join(',')), datum: (c) => set(c.trunks) },
  { table: 'Port', column: 'vlan_mode', show: (c) => optional(c.vlanMode), datum: (c) => c.vlanMode ?? emptySet },
  // vswitch.conf.db(5): the empty type is a synonym for "system".
  { table: 'Interface', column: 'type', show: (c) => (c.interfaceType === '' ? 'system' : c.interfaceType), datum: (c) => c.interfaceType },
  { table: 'Interface', column: 'mtu_request', show: (c) => optional(c.mtuRequest), datum: (c) => c.mtuRequest ?? emptySet },
  { table: 'Interface', column: 'ingress_policing_rate', show: (c) => String(c.ingressPolicing.rateKbps), datum: (c) => c.ingressPolicing.rateKbps },
  { table: 'Interface', column: 'ingress_policing_burst', show: (c) => String(c.ingressPolicing.burstKb), datum: (c) => c.ingressPolicing.burstKb },
];

interface MapColumn {
  readonly table: Table;
  /** Diff field of key K: `${prefix}K`. */
  readonly prefix: string;
  ids(columns: WrittenColumns): Readonly<Record<string, string>>;
}

const MAP_COLUMNS: readonly MapColumn[] = [
  { table: 'Port', prefix: 'port external_ids:', ids: (c) => c.portExternalIds },
  { table: 'Interface', prefix: 'external_ids:', ids: (c) => c.externalIds },
];

/** What vifd writes for `spec`: the owner marker on both rows, the VM's UUID on the Port too. */
export function desiredColumns(spec: VifPortSpec): WrittenColumns {
  const vlan = spec.vlan;
  const tag = vlan.mode === 'access' || vlan.mode === 'native-tagged' || vlan.mode === 'native-untagged' ? vlan.tag : null;
  const trunks = vlan.mode === 'trunk' || ((vlan.mode === 'native-tagged' || vlan.mode === 'native-untagged') && vlan.trunks) ? vlan.trunks ?? [] : [];
  return {
    bridge: spec.bridge,
    tag,
    trunks: [...trunks].sort((a, b) => a - b),
    vlanMode: vlan.mode === 'none' ? null : vlan.mode,
    interfaceType: spec.interfaceType ?? '',
    mtuRequest: spec.mtuRequest ?? null,
    ingressPolicing: spec.ingressPolicing ?? { rateKbps: 0, burstKb: 0 },
    portExternalIds: { [EXTERNAL_ID.owner]: OWNER_VALUE, [EXTERNAL_ID.vmUuid]: spec.externalIds[EXTERNAL_ID.vmUuid] ?? '' },
    externalIds: { ...spec.externalIds, [EXTERNAL_ID.owner]: OWNER_VALUE },
  };
}

/** The port as OVSDB rows show it (whatever encoding the server used for each column). */
export function readOwnedPort(portRow: ReplicaRow, ifaceRow: ReplicaRow | undefined, bridge: string | null): OwnedPort {
  return {
    name: String(portRow.name),
    bridge,
    tag: optionalInteger(portRow.tag),
    trunks: integerSet(portRow.trunks),
    vlanMode: optionalString(portRow.vlan_mode),
    interfaceType: optionalString(ifaceRow?.type) ?? '',
    mtuRequest: optionalInteger(ifaceRow?.mtu_request),
    ingressPolicing: { rateKbps: optionalInteger(ifaceRow?.ingress_policing_rate) ?? 0, burstKb: optionalInteger(ifaceRow?.ingress_policing_burst) ?? 0 },
    portExternalIds: stringMap(portRow.external_ids),
    externalIds: stringMap(ifaceRow?.external_ids),
    ofport: optionalInteger(ifaceRow?.ofport),
    error: optionalString(ifaceRow?.error),
  };
}

interface Difference {
  readonly drift: ColumnDrift;
  readonly table: Table | 'Bridge';
  /** The column to write (scalar), or the external_ids key to set (map). */
  readonly column?: string;
  readonly key?: string;
}

function differences(want: WrittenColumns, seen: WrittenColumns): Difference[] {
  const found: Difference[] = [];
  if (want.bridge !== seen.bridge) found.push({ table: 'Bridge', drift: { field: 'bridge', wanted: optional(want.bridge), seen: optional(seen.bridge) } });
  for (const rule of SCALAR_COLUMNS) {
    const [wanted, shown] = [rule.show(want), rule.show(seen)];
    if (wanted !== shown) found.push({ table: rule.table, column: rule.column, drift: { field: rule.column, wanted, seen: shown } });
  }
  for (const rule of MAP_COLUMNS) {
    const seenIds = rule.ids(seen);
    for (const [key, wanted] of Object.entries(rule.ids(want))) {
      const shown = seenIds[key] ?? 'none';
      if (wanted !== shown || !(key in seenIds)) found.push({ table: rule.table, key, drift: { field: `${rule.prefix}${key}`, wanted, seen: shown } });
    }
  }
  return found;
}

/** Every column and external_ids key vifd writes that `seen` does not have as `spec` wants; [] when it matches. */
export function diffPort(spec: VifPortSpec, seen: OwnedPort): ColumnDrift[] {
  return differences(desiredColumns(spec), seen).map((difference) => difference.drift);
}

/** The full rows of a new port (without name and references). */
export function insertRows(want: WrittenColumns): Record<Table, Record<string, Datum>> {
  const rows: Record<Table, Record<string, Datum>> = { Port: {}, Interface: {} };
  for (const rule of SCALAR_COLUMNS) rows[rule.table][rule.column] = rule.datum(want);
  for (const rule of MAP_COLUMNS) rows[rule.table].external_ids = map(rule.ids(want));
  return rows;
}

export interface TableChange {
  /** Columns to update. */
  readonly row: Row;
  /** external_ids keys to set (other keys are left as they are). */
  readonly ids: Readonly<Record<string, string>>;
}

/** What to write so `seen` becomes `want`, per table, from the same differences diffPort reports. */
export function changes(want: WrittenColumns, seen: WrittenColumns): { readonly Port: TableChange; readonly Interface: TableChange; readonly bridgeMoved: boolean } {
  const out = { Port: { row: {} as Record<string, Datum>, ids: {} as Record<string, string> }, Interface: { row: {} as Record<string, Datum>, ids: {} as Record<string, string> } };
  let bridgeMoved = false;
  for (const difference of differences(want, seen)) {
    if (difference.table === 'Bridge') bridgeMoved = true;
    else if (difference.key !== undefined) out[difference.table].ids[difference.key] = difference.drift.wanted;
    else if (difference.column !== undefined) {
      const rule = SCALAR_COLUMNS.find((candidate) => candidate.table === difference.table && candidate.column === difference.column);
      if (rule !== undefined) out[difference.table].row[difference.column] = rule.datum(want);
    }
  }
  return { ...out, bridgeMoved };
}

/** The port exactly as vifd would write `spec` (for fakes and tests: diffPort against it is []). */
export function ownedPortAsWritten(spec: VifPortSpec, state: { ofport: number | null; error: string | null } = { ofport: null, error: null }): OwnedPort {
  return { name: spec.name, ...desiredColumns(spec), ...state };
}
