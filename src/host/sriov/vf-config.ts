// Setting VF attributes the way the drivers force: one IFLA_VF_* attribute per
// request (a multi-attribute request that fails half-way leaves the earlier
// ones applied, measured on igb), and each read back from the PF driver. A PF
// that is down accepts changes and silently drops them, so it is refused.
import type { VfAttribute, VfAttributeKind, VfNetConfig, WantedAttribute } from '../../model/sriov/vf-settings.js';
import { attributeReadsBack, describeAttribute } from '../../model/sriov/vf-settings.js';
import { VfNetlinkError, VfReadBackError } from './errors.js';
import type { VfNetlink } from './netlink.js';

export interface PfLink {
  readonly ifindex: number;
  readonly name: string;
}

export async function readVfConfig(netlink: VfNetlink, pf: PfLink, vf: number): Promise<VfNetConfig> {
  const link = await netlink.getLink({ ifindex: pf.ifindex });
  const config = link.vfs.find((candidate) => candidate.index === vf);
  if (config !== undefined) return config;
  const truncated = link.numVfs !== undefined && link.numVfs > link.vfs.length ? ` (the list holds ${link.vfs.length} of ${link.numVfs}: truncated)` : '';
  throw VfReadBackError.at({ pf: pf.name, vf }, `the PF driver reports no VF ${vf}${truncated}`);
}

/** Sets one attribute and reads it back; returns the VF as read back. */
export async function setVfAttribute(netlink: VfNetlink, pf: PfLink, vf: number, value: VfAttribute): Promise<VfNetConfig> {
  await netlink.setVf(pf, vf, value);
  const seen = await readVfConfig(netlink, pf, vf);
  if (!attributeReadsBack(value, seen)) {
    throw VfReadBackError.at({ pf: pf.name, vf, attribute: value.kind }, `set ${describeAttribute(value)}, reads back ${describeSeen(value, seen)}`);
  }
  return seen;
}

function describeSeen(value: VfAttribute, seen: VfNetConfig): string {
  switch (value.kind) {
    case 'mac': return seen.mac;
    case 'vlan': return `vlan ${seen.vlan} qos ${seen.qos} proto ${seen.vlanProtocol}`;
    case 'spoofchk': return `spoofchk ${seen.spoofchk === undefined ? 'unreported' : seen.spoofchk ? 'on' : 'off'}`;
    case 'trust': return `trust ${seen.trust === undefined ? 'unreported' : seen.trust ? 'on' : 'off'}`;
    case 'link-state': return `state ${seen.linkState ?? 'unreported'}`;
    case 'rate': return `min_tx_rate ${seen.minTxRate ?? '?'} max_tx_rate ${seen.maxTxRate ?? '?'}`;
  }
}

/**
 * Applies `wanted` in order, each set and read back. Stops at the first
 * failure (the caller restores from the snapshot); an attribute the driver
 * has no operation for is skipped only when it asks for the default.
 * `unsupported` (the caller keeps one per PF) remembers those attributes, so
 * a default one is not sent again to be refused again (igb answers every
 * link-state request with EOPNOTSUPP).
 */
export async function applyVfAttributes(
  netlink: VfNetlink, pf: PfLink, vf: number, wanted: readonly WantedAttribute[], unsupported: Set<VfAttributeKind> = new Set(),
): Promise<VfAttribute[]> {
  const skipped: VfAttribute[] = [];
  for (const { value, skipIfUnsupported } of wanted) {
    if (skipIfUnsupported && unsupported.has(value.kind)) {
      skipped.push(value);
      continue;
    }
    try {
      await setVfAttribute(netlink, pf, vf, value);
    } catch (error) {
      if (!(skipIfUnsupported && error instanceof VfNetlinkError && error.isUnsupported)) throw error;
      unsupported.add(value.kind);
      skipped.push(value);
    }
  }
  return skipped;
}
