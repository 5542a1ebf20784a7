// What the netback kind needs of the host: the batching port writer, the
// owned-port index, and the network device netback or the toolstack made
// (vifd never makes or deletes it; it sets its MAC, MTU and up flag as Xen's
// scripts do). The real effectors satisfy it; unit tests pass in-memory ones.
import type { LinkSettings, LinkState } from '../../host/net-devices.js';
import type { FlowTables } from '../../host/ofctl.js';
import type { OwnedPortView, VifPortSpec } from '../../host/ovsdb/ports.js';
import type { PortApplied } from '../../host/ovsdb/port-writer.js';

export interface NetbackHost {
  readonly ports: {
    ensure(spec: VifPortSpec): Promise<PortApplied>;
    remove(name: string): Promise<void>;
    readonly owned: Pick<OwnedPortView, 'all' | 'ofVm' | 'macUsers'>;
  };
  /** OpenFlow rules of locked ports (XAPI's locking_mode), on the bridge the port sits on. */
  readonly flows: Pick<FlowTables, 'apply' | 'remove'>;
  readonly devices: {
    /** The device exists in this network namespace (sysfs /sys/class/net/<name>). */
    exists(name: string): boolean;
    /** The device's MAC, MTU and up flag; null when it does not exist. */
    read(name: string): LinkState | null;
    /** Makes the link as asked where it differs; returns the fields changed. */
    configure(name: string, want: LinkSettings): string[];
    /** Takes the link down; false when the device is already gone. */
    down(name: string): boolean;
  };
}
