// The seams between the engine and the sources: what a source tells the
// engine about its VMs, and what a source's own actions (hot-plug) may ask of
// the engine. Types only, so that neither side imports the other.
import type { DesiredVif, VmPlan } from './plan.js';
import type { VmIdentity, VmIntent } from './vm-intent.js';

export interface VmSummary extends VmIdentity {
  /** The VM runs (or is paused, or crashed but kept): its VIFs must exist. */
  readonly active: boolean;
}

export interface IntentRead {
  readonly intent: VmIntent;
  /** Refuses a plan the VM cannot start with as its source defines it (libvirt: interfaces not rendered as planned). */
  readonly accept?: (plan: VmPlan) => void;
}

export interface RunningRead extends IntentRead {
  /**
   * Indexes of vifd VIFs the running VM shows now. One without an intent
   * entry is being detached: it stays as it is until the guest lets it go.
   */
  readonly present: ReadonlySet<number>;
}

export interface VmSnapshot extends VmSummary {
  /** What the running VM runs with now; may refuse (then its VIFs are left as they are). */
  running(): Promise<RunningRead>;
  /** What its definition asks for, checked as a start would check it. */
  definition(): Promise<IntentRead>;
}

export interface VmSource {
  list(): Promise<VmSummary[]>;
  /** null when no such VM exists. Reads what it needs now, parses later (in the VM's queue). */
  get(uuid: string): Promise<VmSnapshot | null>;
  /**
   * VIFs whose device was recreated under the running VM: make the VM use the
   * new one (libvirt: re-plug the NIC). Resolves true when something was done
   * (the engine then looks at the VM again).
   */
  recreated?(vm: VmIdentity, vifs: readonly DesiredVif[]): Promise<boolean>;
}

/** What a source's VIF actions (hot-plug, unplug) ask of the engine, in the VM's queue. */
export interface VifControl {
  inVmQueue<T>(uuid: string, work: () => Promise<T>): Promise<T>;
  plan(intent: VmIntent): VmPlan;
  /** Makes the host match `desired` for one VM (inside its queue); step failures are returned. */
  applyFor(vm: VmIdentity, desired: readonly DesiredVif[]): Promise<{ readonly failures: readonly { readonly error: Error }[]; readonly ran: number }>;
  /** What a running VM is known to want, as of its last reconcile. */
  wantedFor(uuid: string): readonly DesiredVif[];
  /** Keeps a VIF plugged while the guest may still use it (a detach in progress). */
  hold(uuid: string, index: number): void;
  unhold(uuid: string, index: number): void;
}
