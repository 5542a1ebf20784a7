// A desired Xen device's OVS port: the columns vif-openvswitch and XAPI's
// setup-vif-rules write (bridge, tag/trunks, MTU, the xen-* and xs-* keys
// their tools read) plus vifd's owner keys and its kind mark.
import { EXTERNAL_ID, vifExternalIds } from '../../host/ovsdb/ports.js';
import type { VifPortSpec } from '../../host/ovsdb/ports.js';
import type { DesiredOf } from '../../model/plan.js';

export type NetbackDesiredVif = DesiredOf<'netback'>;

/** vifd's mark on a netback port (external_ids vifd:kind): a TAP port never carries it. */
export const NETBACK_KIND = 'netback';

/** XAPI's locking_mode of the VIF (xenopsd's private `locking-mode`), when the toolstack gave one. */
export const LOCKING_MODE_ID = 'vifd:locking-mode';
/** A locked VIF's allowed addresses, comma-separated as xenopsd writes them (empty: none). */
export const IPV4_ALLOWED_ID = 'vifd:ipv4-allowed';
export const IPV6_ALLOWED_ID = 'vifd:ipv6-allowed';

function xenIds(vif: NetbackDesiredVif): Record<string, string> {
  const ids: Record<string, string> = { [EXTERNAL_ID.xenVmUuid]: vif.vmUuid };
  if (vif.xenVmName !== undefined) ids[EXTERNAL_ID.xenVmName] = vif.xenVmName;
  if (vif.lockingMode !== undefined) ids[LOCKING_MODE_ID] = vif.lockingMode;
  if (vif.lockingMode === 'locked') {
    ids[IPV4_ALLOWED_ID] = (vif.ipv4Allowed ?? []).join(',');
    ids[IPV6_ALLOWED_ID] = (vif.ipv6Allowed ?? []).join(',');
  }
  if (vif.xapi !== undefined) {
    ids[EXTERNAL_ID.xsVmUuid] = vif.xapi.vmUuid;
    ids[EXTERNAL_ID.xsVifUuid] = vif.xapi.vifUuid;
    ids[EXTERNAL_ID.xsNetworkUuid] = vif.xapi.networkUuid;
  }
  return ids;
}

export function netbackPortSpec(vif: NetbackDesiredVif): VifPortSpec {
  // On XAPI hosts OVN-style tools expect iface-id = the VIF's XAPI uuid (as ovs-xapi-sync sets it).
  const owner = vifExternalIds({ vmUuid: vif.vmUuid, index: vif.index, mac: vif.mac, ...(vif.xapi === undefined ? {} : { ifaceId: vif.xapi.vifUuid }) });
  const spec: VifPortSpec = {
    bridge: vif.bridge, name: vif.device, vlan: vif.vlan,
    externalIds: { ...owner, ...xenIds(vif), [EXTERNAL_ID.network]: vif.network, [EXTERNAL_ID.kind]: NETBACK_KIND },
  };
  return vif.mtu === undefined ? spec : { ...spec, mtuRequest: vif.mtu };
}
