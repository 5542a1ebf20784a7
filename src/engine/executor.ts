// Carries out reconcile steps on the host: TAPs through ioctls, ports through
// the batching OVSDB writer. Creation runs TAP before port (ovs-vswitchd opens
// the device when the row lands); removal runs port before TAP (a port whose
// device vanished first shows an error in OVSDB for a moment). Every step is
// repeat-safe, so a step that fails can simply be planned and run again.
import type { OwnedPort, VifPortSpec } from '../host/ovsdb/ports.js';
import { vifExternalIds } from '../host/ovsdb/ports.js';
import type { PortApplied } from '../host/ovsdb/port-writer.js';
import type { EnsureResult, TapSpec, TapState } from '../host/tap.js';
import { faultPoint } from '../common/fault-points.js';
import { VifdError } from '../model/errors.js';
import { hostSideMac, tapAlias } from './vif-state.js';
import type { DesiredVif, Step } from './vif-state.js';

/** What the engine needs of the host; the real effectors satisfy it, tests may wrap them. */
export interface HostEffectors {
  readonly taps: {
    ensure(spec: TapSpec): EnsureResult;
    delete(name: string): boolean;
    list(select?: (name: string) => boolean): TapState[];
  };
  readonly ports: {
    ensure(spec: VifPortSpec): Promise<PortApplied>;
    remove(name: string): Promise<void>;
  };
  ownedPorts(): readonly OwnedPort[];
}

/** external_ids key naming the host network a VIF was planned on (for status after a restart). */
export const NETWORK_EXTERNAL_ID = 'vifd:network';

export function tapSpec(vif: DesiredVif): TapSpec {
  const spec: TapSpec = { name: vif.device, mac: hostSideMac(vif.mac), up: true, alias: tapAlias(vif.vmUuid, vif.index) };
  return vif.mtu === undefined ? spec : { ...spec, mtu: vif.mtu };
}

export function portSpec(vif: DesiredVif): VifPortSpec {
  const spec: VifPortSpec = {
    bridge: vif.bridge, name: vif.device, vlan: vif.vlan,
    externalIds: { ...vifExternalIds({ vmUuid: vif.vmUuid, index: vif.index, mac: vif.mac }), [NETWORK_EXTERNAL_ID]: vif.network },
  };
  return vif.mtu === undefined ? spec : { ...spec, mtuRequest: vif.mtu };
}

export interface StepFailure {
  readonly step: Step;
  readonly error: Error;
}

export interface ExecutionResult {
  readonly failures: readonly StepFailure[];
  /** Devices whose TAP was created (not merely repaired) by this run. */
  readonly createdTaps: readonly string[];
  readonly removedPorts: number;
  readonly deletedTaps: number;
}

const stepContext = (step: Step): { vmUuid?: string; vifIndex?: number } => {
  if (step.kind === 'ensure-tap' || step.kind === 'ensure-port') return { vmUuid: step.vif.vmUuid, vifIndex: step.vif.index };
  return step.vmUuid === null ? {} : { vmUuid: step.vmUuid };
};

function withStepContext(step: Step, error: unknown): Error {
  if (error instanceof VifdError) return error.withContext(stepContext(step));
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Runs the steps; never throws for a failed step: failures are returned so
 * the caller decides (prepare rolls back, reconcile logs and retries later).
 */
export async function executeSteps(steps: readonly Step[], host: HostEffectors): Promise<ExecutionResult> {
  const failures: StepFailure[] = [];
  const createdTaps: string[] = [];
  const failedDevices = new Set<string>();
  for (const step of steps) {
    if (step.kind !== 'ensure-tap') continue;
    try {
      const result = host.taps.ensure(tapSpec(step.vif));
      if (result.created) createdTaps.push(step.vif.device);
    } catch (error) {
      failures.push({ step, error: withStepContext(step, error) });
      failedDevices.add(step.vif.device);
    }
  }
  if (steps.some((step) => step.kind === 'ensure-tap')) faultPoint('plug-taps-ready');
  const portSteps = steps.filter((step) => step.kind === 'ensure-port' && !failedDevices.has(step.vif.device));
  const removals = steps.filter((step) => step.kind === 'remove-port');
  await Promise.all([
    ...portSteps.map(async (step) => {
      if (step.kind !== 'ensure-port') return;
      try {
        // ovs-vswitchd keeps reading the deleted device of a port whose TAP came back: only
        // taking the port out of the datapath and putting it back makes it open the new one.
        if (step.reopen) await host.ports.remove(step.vif.device);
        await host.ports.ensure(portSpec(step.vif));
      } catch (error) {
        failures.push({ step, error: withStepContext(step, error) });
      }
    }),
    ...removals.map(async (step) => {
      await host.ports.remove(step.device).catch((error: unknown) => {
        failures.push({ step, error: withStepContext(step, error) });
        failedDevices.add(step.device);
      });
    }),
  ]);
  if (portSteps.length > 0) faultPoint('plug-ports-applied');
  if (removals.length > 0) faultPoint('unplug-ports-removed');
  let deletedTaps = 0;
  for (const step of steps) {
    if (step.kind !== 'delete-tap' || failedDevices.has(step.device)) continue;
    try {
      if (host.taps.delete(step.device)) deletedTaps++;
      if (deletedTaps === 1) faultPoint('unplug-first-tap-deleted');
    } catch (error) {
      failures.push({ step, error: withStepContext(step, error) });
    }
  }
  return { failures, createdTaps, removedPorts: removals.length - failures.filter((f) => f.step.kind === 'remove-port').length, deletedTaps };
}
