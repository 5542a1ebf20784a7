// The simulator's database: records by ref, a generation counter bumped by
// every change, and per-object "last changed" generations so event.from can
// answer "what changed since token T" with one coalesced event per object,
// as XAPI does. Deleted objects leave a tombstone for their `del` event.
import { randomUUID } from 'node:crypto';
import { XapiFailure } from './failure.js';
import { CLASSES, NULL_REF, REF_FIELDS, asText, cloneValue, completeRecord } from './schema.js';
import type { SimClass, SimRecord, Value } from './schema.js';

interface Row {
  readonly cls: SimClass;
  ref: string;
  readonly record: SimRecord;
  created: number;
  modified: number;
}

interface Tombstone {
  readonly cls: SimClass;
  readonly ref: string;
  readonly created: number;
  readonly deleted: number;
}

export interface WireEvent {
  readonly id: string;
  readonly timestamp: string;
  readonly class: string;
  readonly operation: 'add' | 'mod' | 'del';
  readonly ref: string;
  readonly snapshot?: SimRecord;
}

export const newRef = (): string => `OpaqueRef:${randomUUID()}`;

/** XAPI's token: two zero-padded 20-digit decimals; we keep the second at 0. */
export const formatToken = (generation: number): string =>
  `${String(generation).padStart(20, '0')},${'0'.padStart(20, '0')}`;

export function parseToken(token: string): number {
  if (token === '') return 0;
  const match = /^(\d{1,20}),(\d{1,20})$/.exec(token);
  if (match === null) throw new XapiFailure('EVENT_FROM_TOKEN_PARSE_FAILURE', [token]);
  return Number(match[1]);
}

export class SimStore {
  generation = 0;
  private readonly rows = new Map<string, Row>();
  private tombstones: Tombstone[] = [];
  private readonly listeners = new Set<() => void>();
  private notifyQueued = false;

  /** Called (once per burst of changes) after records change. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const listener of [...this.listeners]) listener();
    });
  }

  private bump(): number {
    this.generation += 1;
    this.changed();
    return this.generation;
  }

  create(cls: SimClass, fields: Readonly<SimRecord> = {}, uuid: string = randomUUID()): string {
    const ref = newRef();
    const generation = this.bump();
    this.rows.set(ref, { cls, ref, record: completeRecord(cls, uuid, fields), created: generation, modified: generation });
    return ref;
  }

  /** The row, or HANDLE_INVALID naming the class, as XAPI does for a bad or deleted ref. */
  row(cls: SimClass, ref: unknown): Row {
    const row = typeof ref === 'string' ? this.rows.get(ref) : undefined;
    if (row?.cls !== cls) throw new XapiFailure('HANDLE_INVALID', [cls, typeof ref === 'string' ? ref : JSON.stringify(ref)]);
    return row;
  }

  has(cls: SimClass, ref: unknown): boolean {
    return typeof ref === 'string' && this.rows.get(ref)?.cls === cls;
  }

  /** A copy of the record: callers may keep it. */
  get(cls: SimClass, ref: unknown): SimRecord {
    return cloneValue(this.row(cls, ref).record);
  }

  field(cls: SimClass, ref: unknown, name: string): Value {
    return cloneValue(this.row(cls, ref).record[name] ?? null);
  }

  text(cls: SimClass, ref: unknown, name: string): string {
    return asText(this.row(cls, ref).record[name]);
  }

  update(cls: SimClass, ref: unknown, change: (record: SimRecord) => void): void {
    const row = this.row(cls, ref);
    change(row.record);
    row.modified = this.bump();
  }

  destroy(cls: SimClass, ref: unknown): void {
    const row = this.row(cls, ref);
    this.rows.delete(row.ref);
    this.tombstones.push({ cls, ref: row.ref, created: row.created, deleted: this.bump() });
  }

  /** event.inject: the object counts as changed now; returns the token of that change. */
  touch(cls: SimClass, ref: unknown): string {
    const row = this.row(cls, ref);
    row.modified = this.bump();
    return formatToken(row.modified);
  }

  byUuid(cls: SimClass, uuid: unknown): string {
    for (const row of this.rows.values()) if (row.cls === cls && row.record.uuid === uuid) return row.ref;
    throw new XapiFailure('UUID_INVALID', [cls, typeof uuid === 'string' ? uuid : JSON.stringify(uuid)]);
  }

  refs(cls: SimClass): string[] {
    return [...this.rows.values()].filter((row) => row.cls === cls).map((row) => row.ref);
  }

  allRecords(cls: SimClass): Record<string, SimRecord> {
    return Object.fromEntries(this.refs(cls).map((ref) => [ref, this.get(cls, ref)]));
  }

  /** Live objects per class, lowercase, every table: event.from's valid_ref_counts. */
  validRefCounts(): Record<string, number> {
    const counts = Object.fromEntries(CLASSES.map((cls) => [cls.toLowerCase(), 0]));
    for (const row of this.rows.values()) counts[row.cls.toLowerCase()] = (counts[row.cls.toLowerCase()] ?? 0) + 1;
    return counts;
  }

  /** One coalesced event per object changed after `since`, oldest first; `del` has no snapshot. */
  eventsSince(since: number, classes: ReadonlySet<SimClass>): WireEvent[] {
    const found: { generation: number; event: WireEvent }[] = [];
    const timestamp = (Date.now() / 1000).toFixed(6);
    for (const row of this.rows.values()) {
      if (!classes.has(row.cls) || row.modified <= since) continue;
      const operation = row.created > since ? 'add' : 'mod';
      found.push({ generation: row.modified, event: {
        id: String(row.modified), timestamp, class: row.cls.toLowerCase(), operation, ref: row.ref, snapshot: cloneValue(row.record),
      } });
    }
    for (const dead of this.tombstones) {
      if (!classes.has(dead.cls) || dead.deleted <= since || dead.created > since) continue;
      found.push({ generation: dead.deleted, event: {
        id: String(dead.deleted), timestamp, class: dead.cls.toLowerCase(), operation: 'del', ref: dead.ref,
      } });
    }
    return found.sort((a, b) => a.generation - b.generation).map((entry) => entry.event);
  }

  /**
   * A toolstack restart that loses the refs (uuids kept): every object gets a
   * new ref, references inside records follow, and the event stream shows the
   * old refs deleted and the new ones added.
   */
  renewRefs(): void {
    const mapping = new Map<string, string>([...this.rows.keys()].map((ref) => [ref, newRef()]));
    const remap = (ref: Value): Value => (typeof ref === 'string' && ref !== NULL_REF ? mapping.get(ref) ?? ref : ref);
    const old = [...this.rows.values()];
    this.rows.clear();
    for (const row of old) {
      this.tombstones.push({ cls: row.cls, ref: row.ref, created: row.created, deleted: this.bump() });
      const fields = REF_FIELDS[row.cls];
      for (const name of fields.one) row.record[name] = remap(row.record[name] ?? NULL_REF);
      for (const name of fields.many) row.record[name] = ((row.record[name] ?? []) as Value[]).map(remap);
      row.ref = mapping.get(row.ref) ?? newRef();
      row.created = this.bump();
      row.modified = row.created;
      this.rows.set(row.ref, row);
    }
  }
}
