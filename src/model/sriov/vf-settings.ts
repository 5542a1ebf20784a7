// What a VF carries, as rtnetlink reports and sets it (IFLA_VF_* attributes).
// One shape for what is read back, what is wanted and what a snapshot keeps.

export type LinkState = 'auto' | 'enable' | 'disable';
export const LINK_STATES: readonly LinkState[] = ['auto', 'enable', 'disable'];
export type VlanProtocol = '802.1Q' | '802.1ad';

/** One VF as the PF driver reports it (IFLA_VF_INFO). Absent = the driver did not report it. */
export interface VfNetConfig {
  readonly index: number;
  /** The admin MAC, lowercase; 00:00:00:00:00:00 when none is set. */
  readonly mac: string;
  /** 0 = untagged. */
  readonly vlan: number;
  readonly qos: number;
  readonly vlanProtocol: VlanProtocol;
  readonly spoofchk?: boolean;
  readonly trust?: boolean;
  readonly linkState?: LinkState;
  /** Mbit/s; 0 = no limit. */
  readonly minTxRate?: number;
  readonly maxTxRate?: number;
}

/** The attributes vifd sets, one rtnetlink request each (a multi-attribute request can fail half-way). */
export type VfAttribute =
  | { readonly kind: 'mac'; readonly mac: string }
  | { readonly kind: 'vlan'; readonly vlan: number; readonly qos: number; readonly protocol: VlanProtocol }
  | { readonly kind: 'spoofchk'; readonly on: boolean }
  | { readonly kind: 'trust'; readonly on: boolean }
  | { readonly kind: 'link-state'; readonly state: LinkState }
  | { readonly kind: 'rate'; readonly minTxRate: number; readonly maxTxRate: number };

export type VfAttributeKind = VfAttribute['kind'];

/** Does `seen` show `wanted` applied? Attributes the driver does not report do not read back. */
export function attributeReadsBack(wanted: VfAttribute, seen: VfNetConfig): boolean {
  switch (wanted.kind) {
    case 'mac': return seen.mac === wanted.mac.toLowerCase();
    case 'vlan': return seen.vlan === wanted.vlan && seen.qos === wanted.qos && (wanted.vlan === 0 || seen.vlanProtocol === wanted.protocol);
    case 'spoofchk': return seen.spoofchk === wanted.on;
    case 'trust': return seen.trust === wanted.on;
    case 'link-state': return seen.linkState === wanted.state;
    case 'rate': return seen.minTxRate === wanted.minTxRate && seen.maxTxRate === wanted.maxTxRate;
  }
}

/** The attributes that put a VF back to `original` (what a restore sends), MAC first. */
export function attributesOf(original: VfNetConfig): VfAttribute[] {
  const attributes: VfAttribute[] = [
    { kind: 'mac', mac: original.mac },
    { kind: 'vlan', vlan: original.vlan, qos: original.qos, protocol: original.vlanProtocol },
  ];
  if (original.spoofchk !== undefined) attributes.push({ kind: 'spoofchk', on: original.spoofchk });
  if (original.trust !== undefined) attributes.push({ kind: 'trust', on: original.trust });
  if (original.linkState !== undefined) attributes.push({ kind: 'link-state', state: original.linkState });
  if (original.minTxRate !== undefined && original.maxTxRate !== undefined) {
    attributes.push({ kind: 'rate', minTxRate: original.minTxRate, maxTxRate: original.maxTxRate });
  }
  return attributes;
}

export const describeAttribute = (attribute: VfAttribute): string => {
  switch (attribute.kind) {
    case 'mac': return `mac ${attribute.mac}`;
    case 'vlan': return `vlan ${attribute.vlan} qos ${attribute.qos} proto ${attribute.protocol}`;
    case 'spoofchk': return `spoofchk ${attribute.on ? 'on' : 'off'}`;
    case 'trust': return `trust ${attribute.on ? 'on' : 'off'}`;
    case 'link-state': return `state ${attribute.state}`;
    case 'rate': return `min_tx_rate ${attribute.minTxRate} max_tx_rate ${attribute.maxTxRate}`;
  }
};
