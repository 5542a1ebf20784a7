// The real host effectors the VIF kinds work through: TAP ioctls, the
// batching port writer, and the owned-port view of the OVSDB replica.
import type { OvsdbClient } from '../host/ovsdb/client.js';
import { EXTERNAL_ID, listOwnedPorts } from '../host/ovsdb/ports.js';
import type { PortWriter } from '../host/ovsdb/port-writer.js';
import type { TapDevices } from '../host/tap.js';
import type { KindHosts } from '../kinds/registry.js';

export function hostEffectors(taps: TapDevices, writer: PortWriter, ovsdb: OvsdbClient): KindHosts {
  const all = () => listOwnedPorts(ovsdb.replica);
  const owned = {
    all, ofVm: (uuid: string) => all().filter((port) => port.externalIds[EXTERNAL_ID.vmUuid] === uuid),
    macUsers: (mac: string) => all().filter((port) => port.externalIds[EXTERNAL_ID.attachedMac] === mac).map((port) => port.externalIds[EXTERNAL_ID.vmUuid] ?? ''),
  };
  return { taps, ports: { ensure: (spec) => writer.ensure(spec), remove: (name) => writer.remove(name), owned } };
}
