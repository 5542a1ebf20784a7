// What the TAP-on-OVS kind needs of the host: TAP ioctls, the batching port
// writer and the owned-port index. The real effectors satisfy it; unit tests
// pass in-memory ones.
import type { OwnedPortView, VifPortSpec } from '../../host/ovsdb/ports.js';
import type { PortApplied } from '../../host/ovsdb/port-writer.js';
import type { EnsureResult, TapSpec, TapState } from '../../host/tap.js';

/** The owned-port index (host/ovsdb/owned-ports.ts), or the part of it the kind reads. */
export type OwnedPorts = Pick<OwnedPortView, 'all' | 'ofVm' | 'macUsers'>;

export interface TapOvsHost {
  readonly taps: {
    ensure(spec: TapSpec): EnsureResult;
    delete(name: string): boolean;
    list(select?: (name: string) => boolean): TapState[];
    /** A scoped look from the names already known (TapDevices.listKnown): cheap on a host of thousands of links. */
    listKnown(select: (name: string) => boolean): TapState[];
  };
  readonly ports: {
    ensure(spec: VifPortSpec): Promise<PortApplied>;
    remove(name: string): Promise<void>;
    readonly owned: OwnedPorts;
  };
}
