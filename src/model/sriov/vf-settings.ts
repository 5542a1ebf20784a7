// What a VF carries, as rtnetlink reports and sets it (IFLA_VF_* attributes).
// One shape for what is read back, what is wanted and what a snapshot keeps.
import type { VfDefaults } from './config.js';

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

/** An attribute and whether a PF driver without that operation may skip it (only for a value that is the default anyway). */
export interface WantedAttribute {
  readonly value: VfAttribute;
  readonly skipIfUnsupported: boolean;
}

/** Values every VF has untouched: a driver with no operation for them behaves so already (igb has no link-state op). */
const isDefault = (value: VfAttribute): boolean =>
  (value.kind === 'link-state' && value.state === 'auto') || (value.kind === 'rate' && value.minTxRate === 0 && value.maxTxRate === 0)
  || (value.kind === 'trust' && !value.on);

const wanted = (value: VfAttribute): WantedAttribute => ({ value, skipIfUnsupported: isDefault(value) });

/** What a VIF's VF is set to, one attribute per request: MAC and VLAN first (what the guest's traffic depends on). */
export function wantedVfAttributes(defaults: VfDefaults, mac: string, vlan: number | undefined): WantedAttribute[] {
  return [
    { kind: 'mac', mac: mac.toLowerCase() },
    { kind: 'vlan', vlan: vlan ?? 0, qos: 0, protocol: '802.1Q' },
    { kind: 'spoofchk', on: defaults.spoofchk },
    { kind: 'trust', on: defaults.trust },
    { kind: 'link-state', state: defaults.linkState },
    { kind: 'rate', minTxRate: defaults.minTxRate, maxTxRate: defaults.maxTxRate },
  ].map((value) => wanted(value as VfAttribute));
}

/** What puts a VF back as its snapshot found it. */
export const restoreAttributes = (original: VfNetConfig): WantedAttribute[] => attributesOf(original).map(wanted);
