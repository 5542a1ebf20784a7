// What the netback kind needs of the host: the batching port writer, the
// owned-port index, and whether a network device exists (netback or the
// toolstack makes it; vifd never does). The real effectors satisfy it; unit
// tests pass in-memory ones.
import type { OwnedPortView, VifPortSpec } from '../../host/ovsdb/ports.js';
import type { PortApplied } from '../../host/ovsdb/port-writer.js';

export interface NetbackHost {
  readonly ports: {
    ensure(spec: VifPortSpec): Promise<PortApplied>;
    remove(name: string): Promise<void>;
    readonly owned: Pick<OwnedPortView, 'all' | 'ofVm' | 'macUsers'>;
  };
  readonly devices: {
    /** The device exists in this network namespace (sysfs /sys/class/net/<name>). */
    exists(name: string): boolean;
  };
}
