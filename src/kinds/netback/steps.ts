// The steps that attach and detach a Xen device's port (pure). vifd neither
// creates nor deletes the device: netback and the toolstack own it.
import type { Drift } from '../../model/drift.js';
import { DEVICE_FIELD } from './diff.js';
import type { ObservedNetbackVif } from './observe.js';
import type { NetbackDesiredVif } from './specs.js';

export type NetbackStep =
  | { readonly kind: 'ensure-netback-port'; readonly vif: NetbackDesiredVif }
  | { readonly kind: 'remove-netback-port'; readonly device: string; readonly vmUuid: string | null };

/** A port that is missing or wrong is written; a vanished device alone needs nothing vifd can do. */
export function netbackRepairSteps(want: NetbackDesiredVif, _seen: ObservedNetbackVif | undefined, drift: readonly Drift[]): NetbackStep[] {
  return drift.some((record) => record.field !== DEVICE_FIELD) ? [{ kind: 'ensure-netback-port', vif: want }] : [];
}

export const netbackRemovalSteps = (seen: ObservedNetbackVif): NetbackStep[] => [{ kind: 'remove-netback-port', device: seen.device, vmUuid: seen.vmUuid }];
