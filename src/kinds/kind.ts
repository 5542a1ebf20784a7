// What a VIF kind supplies to the engine: what it owns on the host, how that
// differs from a desired VIF (typed drift), the steps that repair or remove
// it, and an executor per step kind. The engine is generic over these; a new
// kind is a folder here plus its entries in registry.ts.
import type { FaultPoint } from '../common/fault-points.js';
import type { Drift } from '../model/drift.js';
import type { DesiredVif } from '../model/plan.js';

/** Something a kind owns on the host, named by its network device. */
export interface OwnedVif {
  /** The VIF kind that owns it (its key in the registry). */
  readonly kind: string;
  readonly device: string;
  readonly vmUuid: string | null;
  readonly index: number | null;
}

/** What an operator is shown of something a kind owns (for an orphan, all there is to show). */
export interface SeenSummary {
  readonly network: string | null;
  readonly mac: string | null;
  readonly bridge: string | null;
  /** As `vifctl` shows VLANs: "access 100", "trunk 200,201", "untagged", "-". */
  readonly vlan: string;
  readonly tag: number | null;
  readonly trunks: readonly number[];
  readonly mtu: number | null;
  /** The switch's port number, when it has one. */
  readonly ofport: number | null;
  /** An SR-IOV VIF's VF: where it is and its state in vifd's pool. */
  readonly vf?: SeenVf;
}

export interface SeenVf {
  readonly address: string;
  readonly pf: string;
  readonly pfName: string;
  readonly index: number;
  readonly state: string;
}

export interface VifKind<Want extends DesiredVif, Seen extends OwnedVif, Step extends { readonly kind: string }> {
  /** What this kind owns on the host; with `vmUuid`, only what that VM's VIFs may have left (cheap per plug). */
  observe(vmUuid?: string): Seen[];
  diff(want: Want, seen: Seen | undefined): Drift[];
  /** Steps that make the host match `want`, given what differs. */
  repair(want: Want, seen: Seen | undefined, drift: readonly Drift[]): Step[];
  /** Steps that remove what vifd owns of `seen`. */
  remove(seen: Seen): Step[];
  /** What status shows of it. */
  describe(seen: Seen): SeenSummary;
  /** UUIDs of the VMs whose VIFs of this kind on the host carry `mac` (a MAC is never shared). */
  macUsers(mac: string): readonly string[];
}

/** What running a step did, summed over a run (status, logs, the re-plug of recreated devices). */
export interface StepTally {
  /** Devices created (not merely repaired) by this run. */
  readonly created: string[];
  detached: number;
  destroyed: number;
}

/**
 * Runs one kind of step. Steps run phase by phase (1: make devices, 2: switch
 * ports, 3: delete devices); a step is skipped when an earlier phase failed
 * for the same device. Every step is repeat-safe.
 */
export interface StepExecutor<Step> {
  readonly phase: 1 | 2 | 3;
  device(step: Step): string;
  context(step: Step): { readonly vmUuid?: string; readonly vifIndex?: number };
  run(step: Step, tally: StepTally): Promise<void> | void;
  /** A crash-test point reached once steps of this kind in its phase have run. */
  readonly afterPhase?: FaultPoint;
}
