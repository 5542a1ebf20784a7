// The sriov-vf VIF kind: a VF of an SR-IOV network's PF, claimed by the
// planner, set up (snapshot first, driver, MAC, VLAN, spoofchk, trust, link
// state, rate; each read back) before its guest starts, repaired attribute by
// attribute, and released (restored, read back, else quarantined) once its
// guest no longer has it. What vifd holds is the pools' state, rebuilt after a
// crash from the restore snapshots and libvirt's running guests.
import type { VifKind } from '../kind.js';
import { sriovVfDrift } from './diff.js';
import type { SriovDesiredVif } from './diff.js';
import type { SriovVfHost } from './host.js';
import { describeSriovVf, observeSriovVfs, sriovMacUsers } from './observe.js';
import type { ObservedSriovVf } from './observe.js';
import { sriovVfRemovalSteps, sriovVfRepairSteps } from './steps.js';
import type { SriovVfStep } from './steps.js';

export type { ObservedSriovVf } from './observe.js';
export type { SriovVfStep } from './steps.js';
export type { SriovVfHost } from './host.js';

export function sriovVfKind(host: SriovVfHost): VifKind<SriovDesiredVif, ObservedSriovVf, SriovVfStep> {
  const views = () => host.sriov?.views() ?? [];
  return {
    observe: (vmUuid) => observeSriovVfs(views(), vmUuid),
    diff: sriovVfDrift,
    repair: sriovVfRepairSteps,
    remove: sriovVfRemovalSteps,
    describe: describeSriovVf,
    macUsers: (mac) => sriovMacUsers(views(), mac),
  };
}
