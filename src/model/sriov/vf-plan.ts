// What the planner needs to give an SR-IOV VIF its VF (pure types and checks):
// the chooser the daemon's VF pools implement, and what a planned VF carries
// so the kind can diff and repair without asking the config again.
import { InvalidInputError, VifdError } from '../errors.js';
import type { VfDefaults } from './config.js';
import { parsePciAddress } from './pci.js';
import type { PciAddress } from './pci.js';
import type { VifOwner } from './release.js';
import type { VifIntent, VmIntent } from '../vm-intent.js';

/** A planned VF: its address, and where it is when the daemon's pool knows (a dry run only has the address). */
export interface PlannedVf {
  readonly address: PciAddress;
  readonly on?: { readonly pf: PciAddress; readonly pfName: string; readonly index: number };
}

/**
 * Claims VFs for VIFs (the daemon's pools). Synchronous on purpose: finding
 * and claiming a VF happen in one turn of the event loop, so two plans can
 * never take the same VF (the "one lock" over find + claim).
 */
export interface VfChooser {
  /**
   * The VF `owner` holds, else `wanted` (from its definition) when free, else
   * (no `wanted`) the previous/most-free choice. Throws a typed refusal naming
   * the network, the PFs and their counts, or the VF's holder.
   */
  claim(network: string, owner: VifOwner, wanted?: PciAddress): PlannedVf;
}

/** What an SR-IOV network asks of its VFs, as the planner copies it into each VIF's plan. */
export interface SriovNetworkSettings {
  readonly defaults: VfDefaults;
  readonly vlan?: number;
  readonly vfDriver: string;
}

/** The VF address an intent carries, checked (it is untrusted text from a definition). */
export const intentVfAddress = (vf: string | undefined): PciAddress | undefined =>
  vf === undefined ? undefined : parsePciAddress(vf.toLowerCase(), 'vf');

/** Without a chooser (a dry run, vifctl plan) only a VF the definition already records can be planned. */
export function vfWithoutChooser(network: string, wanted: PciAddress | undefined): PlannedVf {
  if (wanted === undefined) {
    throw new InvalidInputError(`network ${network} is an SR-IOV network: its VF is chosen by the running daemon (vifctl define, or vifctl attach to a running VM), or recorded as <vif vf="0000:01:10.2"/>`, { field: 'vf' });
  }
  return { address: wanted };
}

/** The VF a definition records cannot be had: another VIF holds it, it is quarantined, foreign or not in the pool. */
export class VfUnavailableError extends VifdError {
  readonly code = 'sriov-vf-unavailable';
}

/**
 * The kind of a VIF follows from its network: a TAP intent on an SR-IOV
 * network is an SR-IOV VIF (sources need not know the host config). A per-VIF
 * VLAN cannot be honoured by a VF (it tags its network's one VLAN): refused.
 */
export function withNetworkKinds(intent: VmIntent, isSriov: (network: string) => boolean): VmIntent {
  if (!intent.vifs.some((vif) => vif.kind === 'tap' && isSriov(vif.network))) return intent;
  const vifs = intent.vifs.map((vif): VifIntent => {
    if (vif.kind !== 'tap' || !isSriov(vif.network)) return vif;
    if (vif.vlan !== undefined) {
      throw new InvalidInputError(`network ${vif.network} is an SR-IOV network: its VIFs take its VLAN; a per-VIF vlan is not supported`, { vifIndex: vif.index, field: 'vlan' });
    }
    return { index: vif.index, kind: 'sriov-vf', network: vif.network, ...(vif.mac === undefined ? {} : { mac: vif.mac }) };
  });
  return { ...intent, vifs };
}
