// A small XAPI world for the pure XAPI source tests: records by class and
// ref, shaped as XAPI sends them (only the fields the source reads).
import type { RecordLookup } from '../../../../src/sources/xapi/fields.js';
import type { XapiRecord } from '../../../../src/xapi/records.js';

export const NULL = 'OpaqueRef:NULL';

export class World implements RecordLookup {
  private readonly tables = new Map<string, Map<string, XapiRecord>>();
  private next = 0;

  private table(cls: string): Map<string, XapiRecord> {
    let table = this.tables.get(cls);
    if (table === undefined) {
      table = new Map();
      this.tables.set(cls, table);
    }
    return table;
  }

  get(cls: string, ref: string): XapiRecord | undefined {
    return this.tables.get(cls)?.get(ref);
  }

  all(cls: string): ReadonlyMap<string, XapiRecord> {
    return this.table(cls);
  }

  add(cls: string, record: Record<string, unknown>): string {
    this.next += 1;
    const ref = `OpaqueRef:${cls}-${this.next}`;
    this.table(cls).set(ref, record);
    return ref;
  }

  change(cls: string, ref: string, fields: Record<string, unknown>): void {
    this.table(cls).set(ref, { ...this.get(cls, ref), ...fields });
  }

  uuid(n: number): string {
    return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  }

  host(n: number): string {
    return this.add('host', { uuid: this.uuid(900 + n), name_label: `host-${n}` });
  }

  pool(master: string): string {
    return this.add('pool', { uuid: this.uuid(999), master });
  }

  network(n: number, bridge: string, name = `net-${n}`): string {
    return this.add('network', { uuid: this.uuid(800 + n), name_label: name, bridge, MTU: 1500 });
  }

  vm(n: number, fields: Record<string, unknown> = {}): string {
    return this.add('VM', {
      uuid: this.uuid(n), name_label: `vm-${n}`, power_state: 'Halted', resident_on: NULL, domid: -1, VIFs: [],
      other_config: {}, blocked_operations: {}, current_operations: {}, is_control_domain: false, is_a_template: false, is_a_snapshot: false, ...fields,
    });
  }

  vif(vm: string, network: string, device: number, mac: string, fields: Record<string, unknown> = {}): string {
    const ref = this.add('VIF', {
      uuid: this.uuid(500 + this.next), device: String(device), MAC: mac, network, VM: vm, MTU: 1500, currently_attached: false, trunks: [], ...fields,
    });
    const record = this.get('VM', vm);
    this.change('VM', vm, { VIFs: [...(record?.VIFs as string[]), ref] });
    return ref;
  }

  /** The VM runs on `host` as domain `domid`, its VIFs attached. */
  run(vm: string, host: string, domid: number): void {
    this.change('VM', vm, { power_state: 'Running', resident_on: host, domid });
    for (const vif of (this.get('VM', vm)?.VIFs as string[])) this.change('VIF', vif, { currently_attached: true });
  }
}

export const mac = (n: number): string => `00:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
