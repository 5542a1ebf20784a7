// The life of one VF in vifd's pool, as a pure state machine. A VF goes back
// to `free` only through `releasing` and a restore that read back clean, and
// `releasing` is entered only when the caller says the guest no longer has the
// device (libvirt reported it removed, the VM stopped, or its start failed):
// the two ways users of other SR-IOV managers lose VFs or hand out dirty ones.
import { VifdError } from '../errors.js';

/** The VIF a VF is held for. */
export interface VifOwner {
  readonly vmUuid: string;
  readonly vifIndex: number;
}

export const sameOwner = (a: VifOwner, b: VifOwner): boolean => a.vmUuid === b.vmUuid && a.vifIndex === b.vifIndex;
export const describeOwner = (owner: VifOwner): string => `VM ${owner.vmUuid} VIF ${owner.vifIndex}`;

export type VfState =
  /** In the pool, clean, allocatable. */
  | { readonly kind: 'free' }
  /** Claimed for a VIF: its snapshot may be written and the VF configured; no guest has it yet. */
  | { readonly kind: 'reserved'; readonly owner: VifOwner }
  /** A running guest has it. */
  | { readonly kind: 'attached'; readonly owner: VifOwner }
  /** The guest no longer has it; its original settings are to be restored. */
  | { readonly kind: 'releasing'; readonly owner?: VifOwner; readonly failedAttempts?: number }
  /** A restore did not read back clean: not allocatable, retried later. */
  | { readonly kind: 'quarantined'; readonly reason: string; readonly attempts: number }
  /** Used by something that is not vifd (another tool's guest, a driver vifd does not own). */
  | { readonly kind: 'foreign'; readonly reason: string };

export type VfStateKind = VfState['kind'];
export const VF_STATE_KINDS: readonly VfStateKind[] = ['free', 'reserved', 'attached', 'releasing', 'quarantined', 'foreign'];

/** What the guest's side says happened to the device; only these start a release. */
export type ReleaseProof = 'device-removed' | 'vm-stopped' | 'start-failed';

export type VfEvent =
  | { readonly kind: 'reserve'; readonly owner: VifOwner }
  | { readonly kind: 'attach'; readonly owner: VifOwner }
  | { readonly kind: 'release'; readonly owner: VifOwner; readonly proof: ReleaseProof }
  | { readonly kind: 'restored'; readonly clean: true }
  | { readonly kind: 'restored'; readonly clean: false; readonly reason: string }
  | { readonly kind: 'retry' }
  | { readonly kind: 'found-foreign'; readonly reason: string }
  | { readonly kind: 'foreign-gone' };

/** An event that does not apply to the VF's state (a bug or a stale event); the state is unchanged. */
export class VfTransitionError extends VifdError {
  readonly code = 'sriov-transition';
}

const ownerOf = (state: VfState): VifOwner | undefined =>
  state.kind === 'reserved' || state.kind === 'attached' || state.kind === 'releasing' ? state.owner : undefined;

function refuse(state: VfState, event: VfEvent, why: string): never {
  const owner = ownerOf(state);
  throw new VfTransitionError(`cannot ${event.kind} a VF that is ${state.kind}${owner === undefined ? '' : ` for ${describeOwner(owner)}`}: ${why}`);
}

function requireOwner(state: VfState, event: VfEvent & { readonly owner: VifOwner }): void {
  const owner = ownerOf(state);
  if (owner === undefined || !sameOwner(owner, event.owner)) refuse(state, event, `the event is for ${describeOwner(event.owner)}`);
}

/** The state after `event`, or VfTransitionError. */
export function nextVfState(state: VfState, event: VfEvent): VfState {
  switch (event.kind) {
    case 'reserve':
      if (state.kind !== 'free') refuse(state, event, 'only a free VF can be reserved');
      return { kind: 'reserved', owner: event.owner };
    case 'attach':
      if (state.kind !== 'reserved' && state.kind !== 'attached') refuse(state, event, 'only a reserved VF can be attached');
      requireOwner(state, event);
      return { kind: 'attached', owner: event.owner };
    case 'release':
      if (state.kind !== 'reserved' && state.kind !== 'attached') refuse(state, event, 'nothing holds it');
      requireOwner(state, event);
      return { kind: 'releasing', owner: event.owner };
    case 'restored':
      if (state.kind !== 'releasing') refuse(state, event, 'no restore was running');
      return event.clean ? { kind: 'free' } : { kind: 'quarantined', reason: event.reason, attempts: (state.failedAttempts ?? 0) + 1 };
    case 'retry':
      if (state.kind !== 'quarantined') refuse(state, event, 'only a quarantined VF is retried');
      return { kind: 'releasing', failedAttempts: state.attempts };
    case 'found-foreign':
      if (state.kind !== 'free' && state.kind !== 'foreign') refuse(state, event, 'vifd holds it');
      return { kind: 'foreign', reason: event.reason };
    case 'foreign-gone':
      if (state.kind !== 'foreign') refuse(state, event, 'it is not foreign');
      // vifd never touched it: there is nothing of vifd's to restore; its next assignment snapshots it as found.
      return { kind: 'free' };
  }
}

/** What survives a vifd crash about one VF: its snapshot on disk, libvirt's running guests, sysfs. */
export interface VfRecoveryFacts {
  /** The owner recorded in the VF's restore snapshot (written before vifd touched the VF). */
  readonly snapshotOwner?: VifOwner;
  /** A running guest of vifd's whose live definition has this VF, and the VIF it is. */
  readonly runningUser?: VifOwner;
  /** Why something else uses it (another domain, a driver vifd does not use), if it does. */
  readonly foreignUse?: string;
  /** Its snapshot exists but cannot be read: vifd may have touched it and cannot say how to restore it. */
  readonly unreadableSnapshot?: string;
}

/**
 * The state of a VF after vifd (re)starts. A running owner keeps it; a VF with
 * a snapshot and no running owner was touched by vifd and is restored (one
 * whose snapshot is unreadable is quarantined); a VF with neither is free
 * unless something else uses it.
 */
export function recoverVfState(facts: VfRecoveryFacts): VfState {
  if (facts.runningUser !== undefined) return { kind: 'attached', owner: facts.runningUser };
  if (facts.unreadableSnapshot !== undefined) return { kind: 'quarantined', reason: facts.unreadableSnapshot, attempts: 0 };
  if (facts.snapshotOwner !== undefined) return { kind: 'releasing', owner: facts.snapshotOwner };
  if (facts.foreignUse !== undefined) return { kind: 'foreign', reason: facts.foreignUse };
  return { kind: 'free' };
}
