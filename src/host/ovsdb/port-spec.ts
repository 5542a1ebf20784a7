// What a VIF port should look like (its spec), and the external_ids keys vifd
// and OVN use. Shared by the planner (ports.ts), the column table
// (port-columns.ts) and the owned-port index (owned-ports.ts).
import type { VlanSettings } from '../../model/vlan.js';

/** external_ids keys: vifd's own, and those OVN/Neutron read (iface-id, attached-mac, iface-status, vm-uuid). */
export const EXTERNAL_ID = {
  owner: 'vifd:owner',
  vifIndex: 'vifd:vif-index',
  vmUuid: 'vm-uuid',
  attachedMac: 'attached-mac',
  ifaceId: 'iface-id',
  ifaceStatus: 'iface-status',
  /** The host network a VIF was planned on (for status after a restart). */
  network: 'vifd:network',
  /** The VIF kind that owns the port; absent on TAP ports (the first kind, written before kinds were marked). */
  kind: 'vifd:kind',
  /** Xen's own keys (vif-openvswitch): the domain's uuid and name. */
  xenVmUuid: 'xen-vm-uuid',
  xenVmName: 'xen-vm-name',
  /** XAPI's keys (setup-vif-rules, read by ovs-xapi-sync and Xen Orchestra's SDN controller). */
  xsVmUuid: 'xs-vm-uuid',
  xsVifUuid: 'xs-vif-uuid',
  xsNetworkUuid: 'xs-network-uuid',
} as const;
export const OWNER_VALUE = 'vifd';

export interface IngressPolicing {
  readonly rateKbps: number;
  readonly burstKb: number;
}

export interface VifPortSpec {
  readonly bridge: string;
  /** Port and Interface name: the TAP's device name. */
  readonly name: string;
  /** OVS interface type; '' (a system device such as a TAP) by default. */
  readonly interfaceType?: string;
  readonly vlan: VlanSettings;
  readonly mtuRequest?: number;
  readonly ingressPolicing?: IngressPolicing;
  /** vifd's and OVN's keys; the owner marker is added by the planner. */
  readonly externalIds: Readonly<Record<string, string>>;
}

export interface VifIdentity {
  readonly vmUuid: string;
  readonly index: number;
  readonly mac: string;
  /** OVN logical port id; defaults to the VM UUID and index. */
  readonly ifaceId?: string;
}

export function vifExternalIds(vif: VifIdentity): Record<string, string> {
  return {
    [EXTERNAL_ID.vmUuid]: vif.vmUuid,
    [EXTERNAL_ID.vifIndex]: String(vif.index),
    [EXTERNAL_ID.attachedMac]: vif.mac,
    [EXTERNAL_ID.ifaceId]: vif.ifaceId ?? `${vif.vmUuid}/${vif.index}`,
    [EXTERNAL_ID.ifaceStatus]: 'active',
  };
}
