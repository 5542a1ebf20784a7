// Carries out netback steps: the device's link through ioctls (phase 1, as
// Xen's scripts set the MAC before adding the port), port writes through the
// batching OVSDB writer (phase 2, in parallel with every other port of the
// run); a removed port's device is taken down, as vif-openvswitch does.
import type { StepExecutor } from '../kind.js';
import type { NetbackHost } from './host.js';
import { netbackLinkSettings } from './link.js';
import { netbackPortSpec } from './specs.js';
import type { NetbackStep } from './steps.js';

type Of<K extends NetbackStep['kind']> = StepExecutor<Extract<NetbackStep, { kind: K }>>;
type NetbackExecutors = { readonly [K in NetbackStep['kind']]: Of<K> };

const vifContext = (step: { readonly vif: { readonly vmUuid: string; readonly index: number } }) => ({ vmUuid: step.vif.vmUuid, vifIndex: step.vif.index });

export function netbackExecutors(host: NetbackHost): NetbackExecutors {
  return {
    'ensure-netback-link': {
      phase: 1, device: (step) => step.vif.device, context: vifContext,
      // A device already gone (its domain died meanwhile) has no link to set: its port is then
      // drift vifd cannot repair, and its source stops wanting it.
      run: (step) => { if (host.devices.exists(step.vif.device)) host.devices.configure(step.vif.device, netbackLinkSettings(step.vif)); },
    },
    'ensure-netback-port': {
      phase: 2, device: (step) => step.vif.device, context: vifContext,
      run: async (step) => { await host.ports.ensure(netbackPortSpec(step.vif)); },
    },
    'remove-netback-port': {
      phase: 2, device: (step) => step.device, context: (step) => (step.vmUuid === null ? {} : { vmUuid: step.vmUuid }),
      run: async (step, tally) => {
        await host.ports.remove(step.device);
        tally.detached++;
        host.devices.down(step.device);
      },
    },
  };
}
