// Carries out TAP-on-OVS steps: TAPs through ioctls (phase 1, and 3 for
// deletion), ports through the batching OVSDB writer (phase 2, in parallel,
// so a plug of 7 VIFs is one transaction).
import { faultPoint } from '../../common/fault-points.js';
import type { StepExecutor } from '../kind.js';
import type { TapOvsHost } from './host.js';
import { portSpec, tapSpec } from './specs.js';
import type { TapOvsStep } from './steps.js';

type Of<K extends TapOvsStep['kind']> = StepExecutor<Extract<TapOvsStep, { kind: K }>>;

const vifContext = (step: { readonly vif: { readonly vmUuid: string; readonly index: number } }) => ({ vmUuid: step.vif.vmUuid, vifIndex: step.vif.index });
const ownerContext = (step: { readonly vmUuid: string | null }) => (step.vmUuid === null ? {} : { vmUuid: step.vmUuid });

export function tapOvsExecutors(host: TapOvsHost): { 'ensure-tap': Of<'ensure-tap'>; 'ensure-port': Of<'ensure-port'>; 'remove-port': Of<'remove-port'>; 'delete-tap': Of<'delete-tap'> } {
  return {
    'ensure-tap': {
      phase: 1, afterPhase: 'plug-taps-ready', device: (step) => step.vif.device, context: vifContext,
      run: (step, tally) => { if (host.taps.ensure(tapSpec(step.vif)).created) tally.created.push(step.vif.device); },
    },
    'ensure-port': {
      phase: 2, afterPhase: 'plug-ports-applied', device: (step) => step.vif.device, context: vifContext,
      run: async (step) => {
        // ovs-vswitchd keeps reading the deleted device of a port whose TAP came back: only
        // taking the port out of the datapath and putting it back makes it open the new one.
        if (step.reopen) await host.ports.remove(step.vif.device);
        await host.ports.ensure(portSpec(step.vif));
      },
    },
    'remove-port': {
      phase: 2, afterPhase: 'unplug-ports-removed', device: (step) => step.device, context: ownerContext,
      run: async (step, tally) => { await host.ports.remove(step.device); tally.detached++; },
    },
    'delete-tap': {
      phase: 3, device: (step) => step.device, context: ownerContext,
      run: (step, tally) => {
        if (!host.taps.delete(step.device)) return;
        tally.destroyed++;
        if (tally.destroyed === 1) faultPoint('unplug-first-tap-deleted');
      },
    },
  };
}
