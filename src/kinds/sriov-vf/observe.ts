// What vifd holds of SR-IOV VIFs: every VF its pools hold for a VIF, keyed by
// the VIF's stable name (as a TAP's), with the VF's last read-back settings.
// Free, quarantined and foreign VFs belong to no VIF: status lists them per PF.
import type { VfView } from '../../host/sriov/vf-host.js';
import { deviceName } from '../../model/names.js';
import type { PciAddress } from '../../model/sriov/pci.js';
import type { VfNetConfig } from '../../model/sriov/vf-settings.js';
import type { OwnedVif, SeenSummary } from '../kind.js';

export interface ObservedSriovVf extends OwnedVif {
  readonly kind: 'sriov-vf';
  readonly vmUuid: string;
  readonly index: number;
  readonly network: string;
  readonly address: PciAddress;
  readonly pf: PciAddress;
  readonly pfName: string;
  readonly vfIndex: number;
  /** reserved: claimed, not yet set up; attached: set up for its guest; releasing: being restored. */
  readonly state: 'reserved' | 'attached' | 'releasing';
  /** False while the VF is gone from sysfs (its PF reset, VFs re-created). */
  readonly present: boolean;
  readonly config?: VfNetConfig;
}

function observed(view: VfView): ObservedSriovVf | null {
  const state = view.state;
  const owner = state.kind === 'reserved' || state.kind === 'attached' || state.kind === 'releasing' ? state.owner : undefined;
  if (owner === undefined || (state.kind !== 'reserved' && state.kind !== 'attached' && state.kind !== 'releasing')) return null;
  return {
    kind: 'sriov-vf', device: deviceName(owner.vmUuid, owner.vifIndex), vmUuid: owner.vmUuid, index: owner.vifIndex,
    network: view.network, address: view.slot.address, pf: view.slot.pf, pfName: view.slot.pfName, vfIndex: view.slot.index,
    state: state.kind, present: view.present, ...(view.config === undefined ? {} : { config: view.config }),
  };
}

export function observeSriovVfs(views: readonly VfView[], vmUuid?: string): ObservedSriovVf[] {
  return views.map(observed).filter((vif): vif is ObservedSriovVf => vif !== null && (vmUuid === undefined || vif.vmUuid === vmUuid))
    .sort((a, b) => a.device.localeCompare(b.device));
}

export function describeSriovVf(seen: ObservedSriovVf): SeenSummary {
  const tag = seen.config === undefined || seen.config.vlan === 0 ? null : seen.config.vlan;
  return {
    network: seen.network, mac: seen.config?.mac ?? null, bridge: seen.pfName,
    vlan: seen.config === undefined ? '-' : tag === null ? 'untagged' : `access ${tag}`, tag, trunks: [], mtu: null, ofport: null,
    vf: { address: seen.address, pf: seen.pf, pfName: seen.pfName, index: seen.vfIndex, state: seen.state },
  };
}

/** VMs whose VFs carry `mac` as their admin MAC. */
export const sriovMacUsers = (views: readonly VfView[], mac: string): string[] =>
  observeSriovVfs(views).filter((vif) => vif.config?.mac === mac.toLowerCase()).map((vif) => vif.vmUuid);
