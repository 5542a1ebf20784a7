// The steps that attach and detach a Xen device (pure). vifd neither creates
// nor deletes the device: netback and the toolstack own it; vifd sets its
// link as Xen's scripts do and owns its port.
import type { Drift } from '../../model/drift.js';
import { DEVICE_FIELD } from './diff.js';
import { isLinkDrift } from './link.js';
import type { ObservedNetbackVif } from './observe.js';
import { LOCKING_MODE_ID } from './specs.js';
import type { NetbackDesiredVif } from './specs.js';

export type NetbackStep =
  | { readonly kind: 'ensure-netback-link'; readonly vif: NetbackDesiredVif }
  /** `staleFlowsOn`: the bridge where the port's locked rules are no longer wanted (unlocked now, or moved). */
  | { readonly kind: 'ensure-netback-port'; readonly vif: NetbackDesiredVif; readonly staleFlowsOn: string | null }
  /** `flowsOn`: the bridge holding the port's locked rules, removed with it. */
  | { readonly kind: 'remove-netback-port'; readonly device: string; readonly vmUuid: string | null; readonly flowsOn: string | null };

/** The bridge whose rules the port had, when it was recorded as locked. */
const lockedOn = (seen: ObservedNetbackVif | undefined): string | null =>
  (seen?.port.externalIds[LOCKING_MODE_ID] === 'locked' ? seen.port.bridge : null);

function staleFlows(want: NetbackDesiredVif, seen: ObservedNetbackVif | undefined): string | null {
  const bridge = lockedOn(seen);
  return bridge !== null && (want.lockingMode !== 'locked' || bridge !== want.bridge) ? bridge : null;
}

/**
 * A link that differs is set, a port that is missing or wrong is written; a
 * vanished device alone needs nothing vifd can do. A port not yet made means
 * a plug: the link is set too (the device is then as Xen's scripts leave it).
 */
export function netbackRepairSteps(want: NetbackDesiredVif, seen: ObservedNetbackVif | undefined, drift: readonly Drift[]): NetbackStep[] {
  const link = seen === undefined || drift.some(isLinkDrift);
  const port = drift.some((record) => record.field !== DEVICE_FIELD && !isLinkDrift(record));
  return [...(link ? [{ kind: 'ensure-netback-link', vif: want } as const] : []), ...(port ? [{ kind: 'ensure-netback-port', vif: want, staleFlowsOn: staleFlows(want, seen) } as const] : [])];
}

export const netbackRemovalSteps = (seen: ObservedNetbackVif): NetbackStep[] => [{ kind: 'remove-netback-port', device: seen.device, vmUuid: seen.vmUuid, flowsOn: lockedOn(seen) }];
