// The steps that plug and unplug a TAP VIF, and which of them a drift needs (pure).
import type { Drift } from '../../model/drift.js';
import type { DesiredOf } from '../../model/plan.js';
import { TAP_FIELDS } from './diff.js';
import type { ObservedTapVif } from './observe.js';

/** A desired VIF of this kind. */
type TapDesiredVif = DesiredOf<'tap'>;

export type TapOvsStep =
  | { readonly kind: 'ensure-tap'; readonly vif: TapDesiredVif }
  /** `reopen`: the port exists but its TAP is being recreated; ovs-vswitchd must open the new device. */
  | { readonly kind: 'ensure-port'; readonly vif: TapDesiredVif; readonly reopen: boolean }
  | { readonly kind: 'remove-port'; readonly device: string; readonly vmUuid: string | null }
  | { readonly kind: 'delete-tap'; readonly device: string; readonly vmUuid: string | null };

/** A TAP that is wrong is made again and its port ensured after it; a port that alone is wrong is updated. */
export function repairSteps(want: TapDesiredVif, seen: ObservedTapVif | undefined, drift: readonly Drift[]): TapOvsStep[] {
  if (drift.length === 0) return [];
  const tapWrong = drift.some((record) => TAP_FIELDS.has(record.field));
  const reopen = seen?.port != null && seen.tap === null;
  return [...(tapWrong ? [{ kind: 'ensure-tap', vif: want } as const] : []), { kind: 'ensure-port', vif: want, reopen }];
}

/** Port before TAP: a port whose device vanished first shows an error in OVSDB for a moment. */
export function removalSteps(seen: ObservedTapVif): TapOvsStep[] {
  const steps: TapOvsStep[] = [];
  if (seen.port !== null) steps.push({ kind: 'remove-port', device: seen.device, vmUuid: seen.vmUuid });
  if (seen.tap !== null) steps.push({ kind: 'delete-tap', device: seen.device, vmUuid: seen.vmUuid });
  return steps;
}
