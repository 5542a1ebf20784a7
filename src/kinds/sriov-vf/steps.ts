// The steps of an SR-IOV VIF (pure): a whole assignment when the VIF has no
// set-up VF, one attribute per step when only settings drifted (the drivers
// need one attribute per request), and a release when the VIF is gone.
import type { Drift } from '../../model/drift.js';
import type { PciAddress } from '../../model/sriov/pci.js';
import type { VfAttribute } from '../../model/sriov/vf-settings.js';
import type { SriovDesiredVif } from './diff.js';
import { VF_FIELD, VF_STATE_FIELD, attributeField, wantedAttributes } from './diff.js';
import type { ObservedSriovVf } from './observe.js';

export type SriovVfStep =
  | { readonly kind: 'assign-vf'; readonly vif: SriovDesiredVif }
  | { readonly kind: 'set-vf-attribute'; readonly vif: SriovDesiredVif; readonly attribute: VfAttribute }
  | { readonly kind: 'release-vf'; readonly device: string; readonly network: string; readonly vmUuid: string; readonly index: number; readonly address: PciAddress };

export function sriovVfRepairSteps(want: SriovDesiredVif, _seen: ObservedSriovVf | undefined, drift: readonly Drift[]): SriovVfStep[] {
  if (drift.length === 0) return [];
  if (drift.some((record) => record.field === VF_FIELD || record.field === VF_STATE_FIELD)) return [{ kind: 'assign-vf', vif: want }];
  const fields = new Set(drift.map((record) => record.field));
  return wantedAttributes(want).filter(({ value }) => fields.has(attributeField(value.kind)))
    .map(({ value }): SriovVfStep => ({ kind: 'set-vf-attribute', vif: want, attribute: value }));
}

/** A VF being restored already is left to the pool's maintenance; a held one is released. */
export const sriovVfRemovalSteps = (seen: ObservedSriovVf): SriovVfStep[] => (seen.state === 'releasing' ? [] : [{
  kind: 'release-vf', device: seen.device, network: seen.network, vmUuid: seen.vmUuid, index: seen.index, address: seen.address,
}]);
