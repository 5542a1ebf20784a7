// Shapes the SR-IOV network pool shares with its callers.
import type { PciAddress } from '../../model/sriov/pci.js';
import type { VifOwner } from '../../model/sriov/release.js';

export type { ReleaseProof, VfState, VifOwner } from '../../model/sriov/release.js';

/** What the caller knows from libvirt about who uses which VF. */
export interface VfOwnerFacts {
  /** VFs in running guests of vifd's (their live definitions), by VF address. */
  readonly runningUsers?: ReadonlyMap<PciAddress, VifOwner>;
  /** VFs used by something not vifd's (another tool's guest), and how. */
  readonly foreignUse?: ReadonlyMap<PciAddress, string>;
}
