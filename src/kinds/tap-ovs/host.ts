// What the TAP-on-OVS kind needs of the host: TAP ioctls, the batching port
// writer and the owned-port index. The real effectors satisfy it; unit tests
// pass in-memory ones.
import type { OwnedPort, VifPortSpec } from '../../host/ovsdb/ports.js';
import type { PortApplied } from '../../host/ovsdb/port-writer.js';
import type { EnsureResult, TapSpec, TapState } from '../../host/tap.js';

export interface OwnedPorts {
  all(): readonly OwnedPort[];
  ofVm(vmUuid: string): readonly OwnedPort[];
  /** vm-uuids of owned ports whose attached-mac is `mac`. */
  macUsers(mac: string): readonly string[];
}

export interface TapOvsHost {
  readonly taps: {
    ensure(spec: TapSpec): EnsureResult;
    delete(name: string): boolean;
    list(select?: (name: string) => boolean): TapState[];
  };
  readonly ports: {
    ensure(spec: VifPortSpec): Promise<PortApplied>;
    remove(name: string): Promise<void>;
    readonly owned: OwnedPorts;
  };
}
