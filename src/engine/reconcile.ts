// Desired against observed, for one VM or for the whole host (pure given the
// kinds). The engine feeds it what the planner wants and what the kinds see
// on the host; it returns each VIF's state for status and metrics, and the
// typed steps that make the host match. Each kind diffs and plans its own
// VIFs; this module only pairs them by device and decides orphans.
import type { Drift } from '../model/drift.js';
import { describeDrift } from '../model/drift.js';
import type { DesiredVif } from '../model/plan.js';
import type { SeenSummary } from '../kinds/kind.js';
import type { KindTable, ObservedVif, Step } from '../kinds/registry.js';

export interface VifReport {
  readonly device: string;
  readonly vmUuid: string | null;
  readonly index: number | null;
  /**
   * ok: as desired; drift: present but wrong or partly missing; missing:
   * nothing of it on the host; orphan: owned, not desired; detaching: kept
   * while the guest may still use it.
   */
  readonly state: 'ok' | 'drift' | 'missing' | 'orphan' | 'detaching';
  /** Field by field, what differs from the desired VIF. */
  readonly drift: readonly Drift[];
  /** The same for people, plus why an orphan or a detaching VIF is one. */
  readonly problems: readonly string[];
  readonly desired: DesiredVif | null;
  readonly observed: ObservedVif | null;
  /** What the host holds of it, as its kind describes it; null when nothing. */
  readonly seen: SeenSummary | null;
}

export interface Reconciliation {
  readonly reports: readonly VifReport[];
  /** Repairs first, then removals; the executor orders them by phase. */
  readonly steps: readonly Step[];
}

function kindOf(kinds: KindTable, name: string): KindTable[string] {
  const kind = kinds[name];
  if (kind === undefined) throw new Error(`no VIF kind ${JSON.stringify(name)} is wired into the engine`);
  return kind;
}

/** What status shows of something a kind owns. */
export const describeSeen = (kinds: KindTable, vif: ObservedVif): SeenSummary => kindOf(kinds, vif.kind).describe(vif);

/** Everything the kinds own, or, with `vmUuid`, what that VM's VIFs may have left. */
export function observeAll(kinds: KindTable, vmUuid?: string): ObservedVif[] {
  return Object.values(kinds).flatMap((kind) => kind.observe(vmUuid));
}

/**
 * Compares desired VIFs with what vifd owns. `inScope` limits what counts as
 * an orphan (one VM's VIFs during a per-VM reconcile; all for GC). A device
 * vifd wants but which is observed as another VM's is left to the planner's
 * collision checks: here it is simply repaired to the desired state.
 */
export function reconcile(kinds: KindTable, desired: readonly DesiredVif[], observed: readonly ObservedVif[], inScope: (vif: ObservedVif) => boolean): Reconciliation {
  const observedByDevice = new Map(observed.map((vif) => [vif.device, vif]));
  const wantedKind = new Map(desired.map((vif) => [vif.device, vif.kind]));
  const reports: VifReport[] = [];
  const repairs: Step[] = [];
  const removals: Step[] = [];
  for (const vif of desired) {
    const kind = kindOf(kinds, vif.kind);
    const found = observedByDevice.get(vif.device);
    // The same device owned as another kind is an orphan of that kind, below; this one starts afresh.
    const seen = found?.kind === vif.kind ? found : undefined;
    const drift = kind.diff(vif, seen);
    // Kinds observe only what has at least one of its parts on the host.
    reports.push({ device: vif.device, vmUuid: vif.vmUuid, index: vif.index, state: drift.length === 0 ? 'ok' : seen === undefined ? 'missing' : 'drift',
      drift, problems: drift.map(describeDrift), desired: vif, observed: seen ?? null, seen: seen === undefined ? null : kind.describe(seen) });
    repairs.push(...kind.repair(vif, seen, drift));
  }
  for (const vif of observed) {
    if (wantedKind.get(vif.device) === vif.kind || !inScope(vif)) continue;
    const kind = kindOf(kinds, vif.kind);
    reports.push({ device: vif.device, vmUuid: vif.vmUuid, index: vif.index, state: 'orphan', drift: [], problems: ['not wanted by any running VM'],
      desired: null, observed: vif, seen: kind.describe(vif) });
    removals.push(...kind.remove(vif));
  }
  return { reports, steps: [...repairs, ...removals] };
}
