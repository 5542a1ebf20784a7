// Whether a VM may be live-migrated as far as its VFs go (pure). A VF is a
// piece of this host's NIC: QEMU cannot move it. A VM keeps its network
// across a migration only through virtio failover: the VF's interface is the
// transient member of a team whose persistent member is a virtio interface
// with the same MAC; QEMU unplugs the VF before migrating and the guest's
// net_failover carries on over virtio. Declared in the domain XML:
//   <interface type='bridge'> ... <mac address='M'/> <model type='virtio'/>
//     <alias name='ua-fast0'/> <teaming type='persistent'/> </interface>
//   <interface type='hostdev' managed='yes'> ... <mac address='M'/>
//     <teaming type='transient' persistent='ua-fast0'/> </interface>
import type { DomainDefinition, InterfaceDefinition } from './domain-xml.js';

function failoverTwin(domain: DomainDefinition, vf: InterfaceDefinition): InterfaceDefinition | undefined {
  const name = vf.teaming?.type === 'transient' ? vf.teaming.persistent : undefined;
  if (name === undefined) return undefined;
  return domain.interfaces.find((other) => other !== vf && other.alias === name && other.teaming?.type === 'persistent'
    && other.mac?.toLowerCase() === vf.mac?.toLowerCase());
}

/** Why the VM cannot be live-migrated (one reason per VF without a failover twin), or [] when it can. */
export function migrationRefusals(domain: DomainDefinition): string[] {
  return domain.interfaces.filter((definition) => definition.type === 'hostdev' && failoverTwin(domain, definition) === undefined)
    .map((definition) => `interface ${definition.targetDev ?? definition.alias ?? definition.mac ?? 'hostdev'} is an SR-IOV VF` +
      `${definition.hostdevAddress === undefined ? '' : ` (${definition.hostdevAddress})`}, which cannot be live-migrated; declare it` +
      ` <teaming type='transient' persistent='ALIAS'/> with a virtio twin <alias name='ALIAS'/><teaming type='persistent'/> of the same MAC`);
}
