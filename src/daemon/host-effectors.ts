// The real host effectors the VIF kinds work through: TAP ioctls, the
// batching port writer, and the owned-port index the OVSDB client keeps current.
import { NetDevices } from '../host/net-devices.js';
import type { OvsdbClient } from '../host/ovsdb/client.js';
import type { PortWriter } from '../host/ovsdb/port-writer.js';
import { OfctlFlowTables } from '../host/ofctl.js';
import type { FlowTables } from '../host/ofctl.js';
import type { TapDevices } from '../host/tap.js';
import type { KindHosts } from '../kinds/registry.js';

export function hostEffectors(taps: TapDevices, writer: PortWriter, ovsdb: OvsdbClient, devices = new NetDevices(), flows: FlowTables = new OfctlFlowTables()): KindHosts {
  return { taps, devices, flows, ports: { ensure: (spec) => writer.ensure(spec), remove: (name) => writer.remove(name), owned: ovsdb.ownedPorts } };
}
