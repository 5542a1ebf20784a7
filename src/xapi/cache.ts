// The records vifd knows, per class and ref: replaced wholesale by a resync,
// then kept current by event.from batches. Keyed by ref, not uuid: a ref is
// what other records point at, and a restarted or different xapi may give the
// same uuid a new ref (the old ref must then go, not the object).
import type { XapiEvent, XapiRecord } from './records.js';

export class XapiRecordCache {
  private readonly byClass = new Map<string, Map<string, XapiRecord>>();

  constructor(readonly classes: readonly string[]) {
    for (const cls of classes) this.byClass.set(cls, new Map());
  }

  private table(cls: string): Map<string, XapiRecord> {
    let table = this.byClass.get(cls);
    if (table === undefined) {
      table = new Map();
      this.byClass.set(cls, table);
    }
    return table;
  }

  /** A resync: the class holds exactly these records now. */
  replaceClass(cls: string, records: ReadonlyMap<string, XapiRecord>): void {
    this.byClass.set(cls, new Map(records));
  }

  apply(events: readonly XapiEvent[]): void {
    for (const event of events) {
      if (event.operation === 'del' || event.snapshot === undefined) this.table(event.className).delete(event.ref);
      else this.table(event.className).set(event.ref, event.snapshot);
    }
  }

  get(cls: string, ref: string): XapiRecord | undefined {
    return this.byClass.get(cls)?.get(ref);
  }

  all(cls: string): ReadonlyMap<string, XapiRecord> {
    return this.byClass.get(cls) ?? new Map<string, XapiRecord>();
  }

  /** The ref and record with this uuid (uuids compare case-insensitively). */
  byUuid(cls: string, uuid: string): { ref: string; record: XapiRecord } | undefined {
    const wanted = uuid.toLowerCase();
    for (const [ref, record] of this.all(cls)) {
      if (typeof record.uuid === 'string' && record.uuid.toLowerCase() === wanted) return { ref, record };
    }
    return undefined;
  }

  size(cls: string): number {
    return this.all(cls).size;
  }
}
