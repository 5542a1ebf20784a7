// OVS fake bridges (ovs-vsctl add-br NAME PARENT VLAN): XAPI's VLAN networks
// name one as their bridge (xapi3), but OVSDB has no Bridge by that name, only
// a Port on the parent bridge with fake_bridge=true and the VLAN as its tag;
// ports "on" the fake bridge are ports of the parent with that tag.
// Read-only, from the replica (needs Port.fake_bridge monitored: PORT_MONITOR).
import { optionalInteger, setElements, uuidOf } from './datum.js';
import type { Replica } from './replica.js';

export interface FakeBridge {
  readonly name: string;
  /** The real bridge the fake one lives on. */
  readonly parent: string;
  /** The VLAN of every port on the fake bridge (0 or absent: untagged, as ovs-vsctl allows). */
  readonly tag: number | null;
}

/** `name` as a fake bridge; null when it is a real bridge or no bridge at all. */
export function resolveFakeBridge(replica: Replica, name: string): FakeBridge | null {
  if (replica.byName('Bridge', name) !== undefined) return null;
  const port = replica.byName('Port', name);
  if (port?.row.fake_bridge !== true) return null;
  for (const [, bridge] of replica.rows('Bridge')) {
    const members = setElements(bridge.ports).map(uuidOf);
    if (!members.includes(port.uuid) || typeof bridge.name !== 'string') continue;
    const tag = optionalInteger(port.row.tag);
    return { name, parent: bridge.name, tag: tag === 0 ? null : tag };
  }
  return null;
}
