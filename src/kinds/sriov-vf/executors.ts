// Carries out SR-IOV steps through the VF pools: assignments and attribute
// repairs with the devices (phase 1), releases with the deletions (phase 3:
// the engine removes a VIF only once its guest no longer has it).
import { VifdError } from '../../model/errors.js';
import type { StepExecutor } from '../kind.js';
import type { SriovVfHost } from './host.js';
import type { SriovVfStep } from './steps.js';

type Of<K extends SriovVfStep['kind']> = StepExecutor<Extract<SriovVfStep, { kind: K }>>;

/** An SR-IOV VIF on a host whose daemon has no VF pools. */
export class SriovNotSetUpError extends VifdError {
  readonly code = 'sriov-not-set-up';
}

export function sriovVfExecutors(host: SriovVfHost): { 'assign-vf': Of<'assign-vf'>; 'set-vf-attribute': Of<'set-vf-attribute'>; 'release-vf': Of<'release-vf'> } {
  const pools = (network: string): NonNullable<SriovVfHost['sriov']> => {
    if (host.sriov === undefined) throw new SriovNotSetUpError(`network ${network}: vifd runs without SR-IOV pools`, { field: 'network', value: network });
    return host.sriov;
  };
  return {
    'assign-vf': {
      phase: 1, device: (step) => step.vif.device, context: (step) => ({ vmUuid: step.vif.vmUuid, vifIndex: step.vif.index }),
      run: async ({ vif }) => { await pools(vif.network).assign(vif.network, { vmUuid: vif.vmUuid, vifIndex: vif.index }, vif.mac, vif.vf.address); },
    },
    'set-vf-attribute': {
      phase: 1, device: (step) => step.vif.device, context: (step) => ({ vmUuid: step.vif.vmUuid, vifIndex: step.vif.index }),
      run: async ({ vif, attribute }) => { await pools(vif.network).repair(vif.network, { vmUuid: vif.vmUuid, vifIndex: vif.index }, attribute); },
    },
    'release-vf': {
      phase: 3, device: (step) => step.device, context: (step) => ({ vmUuid: step.vmUuid, vifIndex: step.index }),
      run: async (step, tally) => {
        await pools(step.network).release(step.network, { vmUuid: step.vmUuid, vifIndex: step.index });
        tally.detached++;
      },
    },
  };
}
