// How a VIF's VF differs from its plan (pure): which VF, whether it is set up,
// and attribute by attribute what the PF driver reads back against what the
// network asks (MAC, VLAN, spoofchk, trust, link state, rate). Attributes the
// driver does not report are not drift when the network asks their default.
import type { Drift } from '../../model/drift.js';
import type { DesiredOf } from '../../model/plan.js';
import { attributeReadsBack, describeAttribute, wantedVfAttributes } from '../../model/sriov/vf-settings.js';
import type { VfAttribute, VfNetConfig, WantedAttribute } from '../../model/sriov/vf-settings.js';
import type { ObservedSriovVf } from './observe.js';

export type SriovDesiredVif = DesiredOf<'sriov-vf'>;

/** Drift of which VF the VIF has, or whether it is set up at all: repaired by a whole assignment. */
export const VF_FIELD = 'vf';
export const VF_STATE_FIELD = 'vf.state';
const ATTRIBUTE_FIELD_PREFIX = 'vf.';

export const attributeField = (kind: VfAttribute['kind']): string => `${ATTRIBUTE_FIELD_PREFIX}${kind}`;

/** Every attribute the plan asks of the VF, in the order they are set. */
export const wantedAttributes = (want: SriovDesiredVif): WantedAttribute[] => wantedVfAttributes(want.sriov.defaults, want.mac, want.sriov.vlan);

function isUnreported(value: VfAttribute, seen: VfNetConfig): boolean {
  switch (value.kind) {
    case 'spoofchk': return seen.spoofchk === undefined;
    case 'trust': return seen.trust === undefined;
    case 'link-state': return seen.linkState === undefined;
    case 'rate': return seen.minTxRate === undefined || seen.maxTxRate === undefined;
    default: return false;
  }
}

function seenText(value: VfAttribute, seen: VfNetConfig): string {
  const onOff = (on: boolean | undefined): string => (on === undefined ? 'unreported' : on ? 'on' : 'off');
  switch (value.kind) {
    case 'mac': return seen.mac;
    case 'vlan': return `vlan ${seen.vlan} qos ${seen.qos} proto ${seen.vlanProtocol}`;
    case 'spoofchk': return `spoofchk ${onOff(seen.spoofchk)}`;
    case 'trust': return `trust ${onOff(seen.trust)}`;
    case 'link-state': return `state ${seen.linkState ?? 'unreported'}`;
    case 'rate': return `min_tx_rate ${seen.minTxRate ?? '?'} max_tx_rate ${seen.maxTxRate ?? '?'}`;
  }
}

export function sriovVfDrift(want: SriovDesiredVif, seen: ObservedSriovVf | undefined): Drift[] {
  const address = want.vf.address;
  if (seen === undefined) return [{ field: VF_FIELD, wanted: address, seen: 'none' }];
  if (seen.address !== address) return [{ field: VF_FIELD, wanted: address, seen: seen.address }];
  if (!seen.present) return [{ field: VF_FIELD, wanted: address, seen: 'vanished' }];
  if (seen.state !== 'attached') return [{ field: VF_STATE_FIELD, wanted: 'attached', seen: seen.state }];
  const config = seen.config;
  if (config === undefined) return [{ field: VF_STATE_FIELD, wanted: 'settings read back', seen: 'unread' }];
  return wantedAttributes(want).flatMap(({ value, skipIfUnsupported }): Drift[] => {
    if (attributeReadsBack(value, config) || (skipIfUnsupported && isUnreported(value, config))) return [];
    return [{ field: attributeField(value.kind), wanted: describeAttribute(value), seen: seenText(value, config) }];
  });
}
