// An in-memory copy of the monitored OVSDB rows, kept current by "update"
// notifications (RFC 7047 §4.1.6). Rows are plain decoded JSON; typed views
// (ports, interfaces) are built on top by their users. Lookups by name are
// indexed (a plug looks up its port, interface and bridge by name, on hosts
// with thousands of ports), and `version` lets users cache what they derive.
// Listeners learn which rows each update touched, so what they derive (the
// owned-port index) is kept current without a pass over every row.
import { setElements } from './datum.js';
import { applyColumnDiff } from './datum-diff.js';
import type { ColumnKind } from './datum-diff.js';

export type ReplicaRow = Readonly<Record<string, unknown>>;

/** One row an update touched: the whole row before and after (undefined: absent). */
export interface RowChange {
  readonly table: string;
  readonly uuid: string;
  readonly before: ReplicaRow | undefined;
  readonly after: ReplicaRow | undefined;
  /**
   * update2 only: the elements each modified set column toggled (so a listener need not compare whole sets).
   * A large set is changed in place (datum-diff.ts): `before` then holds a new wrapper around the same,
   * already changed elements, so a listener reads what changed from here, never by comparing elements.
   */
  readonly toggled?: Readonly<Record<string, readonly unknown[]>>;
}

export interface ReplicaListener {
  /** Everything was dropped (a reconnect); the next apply carries every row again. */
  reset(): void;
  /** Called once per apply, after all of its rows are in place. */
  changed(changes: readonly RowChange[]): void;
}

interface RowUpdate {
  readonly old?: ReplicaRow;
  readonly new?: ReplicaRow;
}

/** monitor_cond's row update (update2): exactly one member. */
interface RowUpdate2 {
  readonly initial?: ReplicaRow;
  readonly insert?: ReplicaRow;
  readonly delete?: null;
  readonly modify?: ReplicaRow;
}

interface Applied {
  readonly row: ReplicaRow | undefined;
  readonly toggled?: Readonly<Record<string, readonly unknown[]>>;
}

/** How the column `column` of `table` is encoded, for update2's diffs. */
export type ColumnKinds = (table: string, column: string) => ColumnKind;

export class Replica {
  private readonly tables = new Map<string, Map<string, ReplicaRow>>();
  private readonly names = new Map<string, Map<string, string>>();
  /** Changes with every applied update: a view derived at one version is valid until it moves. */
  version = 0;
  private readonly listeners = new Set<ReplicaListener>();

  /** Tells `listener` about every reset and apply from now on; returns the unsubscribe. */
  subscribe(listener: ReplicaListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Drops everything: after a reconnect the initial monitor reply is the truth. */
  reset(): void {
    this.tables.clear();
    this.names.clear();
    this.version++;
    for (const listener of this.listeners) listener.reset();
  }

  /** Applies table-updates (monitor): {table: {uuid: {old?, new?}}}; a row without "new" is deleted. */
  apply(updates: unknown): void {
    this.applyEach(updates, (before, update) => {
      const fresh = (update as RowUpdate).new;
      return { row: fresh === undefined ? undefined : { ...before, ...fresh } };
    });
  }

  /** Applies table-updates2 (monitor_cond): initial/insert rows whole, modify as column diffs, delete. */
  applyUpdate2(updates: unknown, kinds: ColumnKinds): void {
    this.applyEach(updates, (before, raw, table) => {
      const update = raw as RowUpdate2;
      const whole = update.initial ?? update.insert;
      if (whole !== undefined) return { row: { ...whole } };
      if (update.modify === undefined) return { row: undefined };
      const row: Record<string, unknown> = { ...before };
      const toggled: Record<string, readonly unknown[]> = {};
      for (const [column, diff] of Object.entries(update.modify)) {
        const kind = kinds(table, column);
        row[column] = applyColumnDiff(kind, before?.[column], diff);
        if (kind === 'set') toggled[column] = setElements(diff);
      }
      return { row, toggled };
    });
  }

  private applyEach(updates: unknown, next: (before: ReplicaRow | undefined, update: unknown, table: string) => Applied): void {
    if (typeof updates !== 'object' || updates === null) return;
    this.version++;
    const changes: RowChange[] = [];
    for (const [table, rows] of Object.entries(updates as Record<string, Record<string, unknown>>)) {
      const current = this.tables.get(table) ?? new Map<string, ReplicaRow>();
      this.tables.set(table, current);
      const byName = this.names.get(table) ?? new Map<string, string>();
      this.names.set(table, byName);
      for (const [uuid, update] of Object.entries(rows)) {
        const before = current.get(uuid);
        if (typeof before?.name === 'string' && byName.get(before.name) === uuid) byName.delete(before.name);
        const { row: after, toggled } = next(before, update, table);
        if (after === undefined) current.delete(uuid);
        else {
          current.set(uuid, after);
          if (typeof after.name === 'string') byName.set(after.name, uuid);
        }
        changes.push(toggled === undefined ? { table, uuid, before, after } : { table, uuid, before, after, toggled });
      }
    }
    for (const listener of this.listeners) listener.changed(changes);
  }

  rows(table: string): ReadonlyMap<string, ReplicaRow> {
    return this.tables.get(table) ?? new Map<string, ReplicaRow>();
  }

  row(table: string, uuid: string): ReplicaRow | undefined {
    return this.tables.get(table)?.get(uuid);
  }

  /** The row whose `name` column equals `name` (Bridge, Port, Interface names are unique in OVS). */
  byName(table: string, name: string): { uuid: string; row: ReplicaRow } | undefined {
    const uuid = this.names.get(table)?.get(name);
    const row = uuid === undefined ? undefined : this.row(table, uuid);
    return uuid === undefined || row === undefined ? undefined : { uuid, row };
  }
}
