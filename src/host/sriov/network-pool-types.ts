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

/** A PF's link as sysfs shows it: operstate, carrier (null when the kernel will not say: link down), and whether VFs can be set. */
export interface PfLinkState {
  readonly pf: PciAddress;
  readonly pfName: string;
  readonly operstate: string;
  readonly carrier: boolean | null;
  readonly up: boolean;
}
