// Carries out netback steps: the device's link through ioctls (phase 1, as
// Xen's scripts set the MAC before adding the port), port writes through the
// batching OVSDB writer (phase 2, in parallel with every other port of the
// run); a removed port's device is taken down, as vif-openvswitch does.
import { HostOperationError } from '../../host/errors.js';
import type { StepExecutor } from '../kind.js';
import type { NetbackHost } from './host.js';
import { netbackLinkSettings } from './link.js';
import { lockFlowLines, portCookieMatch } from './lock-flows.js';
import { netbackPortSpec } from './specs.js';
import type { NetbackDesiredVif } from './specs.js';
import type { NetbackStep } from './steps.js';

type Of<K extends NetbackStep['kind']> = StepExecutor<Extract<NetbackStep, { kind: K }>>;
type NetbackExecutors = { readonly [K in NetbackStep['kind']]: Of<K> };

const EINVAL = 22;

/**
 * netback refuses an MTU above 1500 (EINVAL) until the guest's frontend has
 * connected and offered scatter-gather, which is after the hotplug script ran;
 * Xen's scripts therefore ignore a failed MTU (`|| :`). vifd does not fail the
 * plug for it either: the MTU stays drift (link.mtu) and the drift repair sets
 * it once netback accepts it. Any other failure is the plug's.
 */
function setLinkAsXenDoes(host: NetbackHost, device: string, settings: ReturnType<typeof netbackLinkSettings>): void {
  const { mtu, ...rest } = settings;
  host.devices.configure(device, rest);
  if (mtu === undefined) return;
  try {
    host.devices.configure(device, { mtu });
  } catch (error) {
    if (!(error instanceof HostOperationError && error.context.value === EINVAL)) throw error;
  }
}

/** A locked port's rules, once ovs-vswitchd gave it an OpenFlow number (replacing its earlier rules in one bundle). */
async function lockPort(host: NetbackHost, vif: NetbackDesiredVif, ofport: number | null): Promise<void> {
  if (ofport === null || ofport < 1) {
    throw new HostOperationError(`port ${vif.device} has no OpenFlow port number (ofport ${String(ofport)}): its locked rules cannot be installed`, { field: 'ofport' });
  }
  await host.flows.apply(vif.bridge, lockFlowLines(vif.device, { ofport, mac: vif.mac, ipv4Allowed: vif.ipv4Allowed ?? [], ipv6Allowed: vif.ipv6Allowed ?? [] }));
}

const vifContext = (step: { readonly vif: { readonly vmUuid: string; readonly index: number } }) => ({ vmUuid: step.vif.vmUuid, vifIndex: step.vif.index });

export function netbackExecutors(host: NetbackHost): NetbackExecutors {
  return {
    'ensure-netback-link': {
      phase: 1, device: (step) => step.vif.device, context: vifContext,
      // A device already gone (its domain died meanwhile) has no link to set: its port is then
      // drift vifd cannot repair, and its source stops wanting it.
      run: (step) => { if (host.devices.exists(step.vif.device)) setLinkAsXenDoes(host, step.vif.device, netbackLinkSettings(step.vif)); },
    },
    'ensure-netback-port': {
      phase: 2, device: (step) => step.vif.device, context: vifContext,
      run: async (step) => {
        const applied = await host.ports.ensure(netbackPortSpec(step.vif));
        if (step.staleFlowsOn !== null) await host.flows.remove(step.staleFlowsOn, portCookieMatch(step.vif.device));
        if (step.vif.lockingMode === 'locked') await lockPort(host, step.vif, applied.ofport);
      },
    },
    'remove-netback-port': {
      phase: 2, device: (step) => step.device, context: (step) => (step.vmUuid === null ? {} : { vmUuid: step.vmUuid }),
      run: async (step, tally) => {
        await host.ports.remove(step.device);
        // After the port is gone, so the port is never open without its rules; its number may be reused.
        if (step.flowsOn !== null) await host.flows.remove(step.flowsOn, portCookieMatch(step.device));
        tally.detached++;
        host.devices.down(step.device);
      },
    },
  };
}
