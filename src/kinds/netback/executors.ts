// Carries out netback steps: port writes through the batching OVSDB writer
// (phase 2, in parallel with every other port of the run).
import type { StepExecutor } from '../kind.js';
import type { NetbackHost } from './host.js';
import { netbackPortSpec } from './specs.js';
import type { NetbackStep } from './steps.js';

type Of<K extends NetbackStep['kind']> = StepExecutor<Extract<NetbackStep, { kind: K }>>;

export function netbackExecutors(host: NetbackHost): { 'ensure-netback-port': Of<'ensure-netback-port'>; 'remove-netback-port': Of<'remove-netback-port'> } {
  return {
    'ensure-netback-port': {
      phase: 2, device: (step) => step.vif.device, context: (step) => ({ vmUuid: step.vif.vmUuid, vifIndex: step.vif.index }),
      run: async (step) => { await host.ports.ensure(netbackPortSpec(step.vif)); },
    },
    'remove-netback-port': {
      phase: 2, device: (step) => step.device, context: (step) => (step.vmUuid === null ? {} : { vmUuid: step.vmUuid }),
      run: async (step, tally) => { await host.ports.remove(step.device); tally.detached++; },
    },
  };
}
