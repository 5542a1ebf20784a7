// An in-memory copy of the monitored OVSDB rows, kept current by "update"
// notifications (RFC 7047 §4.1.6). Rows are plain decoded JSON; typed views
// (ports, interfaces) are built on top by their users.
export type ReplicaRow = Readonly<Record<string, unknown>>;

interface RowUpdate {
  readonly old?: ReplicaRow;
  readonly new?: ReplicaRow;
}

export class Replica {
  private readonly tables = new Map<string, Map<string, ReplicaRow>>();

  /** Drops everything: after a reconnect the initial monitor reply is the truth. */
  reset(): void {
    this.tables.clear();
  }

  /** Applies table-updates: {table: {uuid: {old?, new?}}}; a row without "new" is deleted. */
  apply(updates: unknown): void {
    if (typeof updates !== 'object' || updates === null) return;
    for (const [table, rows] of Object.entries(updates as Record<string, Record<string, RowUpdate>>)) {
      let current = this.tables.get(table);
      if (current === undefined) {
        current = new Map();
        this.tables.set(table, current);
      }
      for (const [uuid, update] of Object.entries(rows)) {
        if (update.new === undefined) current.delete(uuid);
        else current.set(uuid, { ...current.get(uuid), ...update.new });
      }
    }
  }

  rows(table: string): ReadonlyMap<string, ReplicaRow> {
    return this.tables.get(table) ?? new Map<string, ReplicaRow>();
  }

  row(table: string, uuid: string): ReplicaRow | undefined {
    return this.tables.get(table)?.get(uuid);
  }

  /** The first row whose `name` column equals `name` (Bridge, Port, Interface are indexed by name). */
  byName(table: string, name: string): { uuid: string; row: ReplicaRow } | undefined {
    for (const [uuid, row] of this.rows(table)) if (row.name === name) return { uuid, row };
    return undefined;
  }
}
