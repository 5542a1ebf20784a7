// The VF pool of one SR-IOV network and the choice of a VF for a VIF. Pure and
// synchronous: `claim` finds and reserves in one turn of the event loop, so two
// concurrent plugs can never pick the same VF (no await between find and claim).
import { VifdError } from '../errors.js';
import { VfTransitionError, nextVfState, recoverVfState, sameOwner } from './release.js';
import type { PciAddress } from './pci.js';
import { comparePciAddresses } from './pci.js';
import type { VfEvent, VifOwner, VfRecoveryFacts, VfState } from './release.js';

/** Where a VF is: its PF (address and netdev) and its index there. */
export interface VfSlot {
  readonly pf: PciAddress;
  readonly pfName: string;
  readonly index: number;
  readonly address: PciAddress;
}

export interface ClaimRequest {
  readonly owner: VifOwner;
  /** The VF this VIF had before (from its domain definition): taken again when free. */
  readonly previous?: PciAddress;
}

/** A choice that reserves nothing (vifctl define): which VFs to pass over, and why. */
export interface ChooseRequest extends ClaimRequest {
  /** VFs already chosen in this request (another VIF of the same VM). */
  readonly taken?: ReadonlySet<PciAddress>;
  /** VFs other (stopped) VMs' definitions record, and by whom: passed over while another is free. */
  readonly recorded?: ReadonlyMap<PciAddress, string>;
}

/** How a VF was chosen: the one the VIF holds, its previous one, a fresh one; `sharedWith` when only a recorded one was left. */
export interface VfChoice {
  readonly entry: PoolEntry;
  readonly how: 'held' | 'previous' | 'chosen';
  readonly sharedWith?: string;
}

export interface PfCount {
  readonly pf: PciAddress;
  readonly pfName: string;
  readonly free: number;
  readonly total: number;
}

/** No free VF on any PF of the network; the message names the network, each PF and its counts. */
export class VfPoolExhaustedError extends VifdError {
  readonly code = 'sriov-exhausted';
}

export interface PoolEntry {
  readonly slot: VfSlot;
  readonly state: VfState;
  /**
   * False while a held VF is gone from sysfs (its PF reset, VFs re-created):
   * it stays its owner's, so it cannot be handed out when it comes back.
   */
  readonly present: boolean;
}

const holder = (state: VfState): VifOwner | undefined => (state.kind === 'reserved' || state.kind === 'attached' ? state.owner : undefined);

export class VfPool {
  private readonly entries = new Map<PciAddress, PoolEntry>();
  /** VFs the config no longer gives the pool (a reload) that a VIF still had: kept until released, never handed out again. */
  private retired = new Set<PciAddress>();
  /** PFs in the order the config lists them (for counts and messages), even with no VF present. */
  private pfs: { readonly pf: PciAddress; readonly pfName: string }[] = [];

  constructor(readonly network: string) {}

  /**
   * A new view of the VFs present (after a scan). VFs seen before keep their
   * state; new ones start from `recover` (their snapshot, running guests).
   * A VF that vanished while held stays its owner's (absent); others are
   * dropped (their snapshot brings them back as releasing). Returns the VFs
   * that vanished in this scan, so their owners can be marked broken.
   */
  setInventory(pfs: readonly { pf: PciAddress; pfName: string }[], slots: readonly VfSlot[], recover: (slot: VfSlot) => VfRecoveryFacts): PoolEntry[] {
    this.pfs = [...pfs];
    const present = new Set(slots.map((slot) => slot.address));
    const gone = [...this.entries.values()].filter((entry) => !present.has(entry.slot.address));
    for (const entry of gone) {
      if (holder(entry.state) === undefined) this.entries.delete(entry.slot.address);
      else this.entries.set(entry.slot.address, { ...entry, present: false });
    }
    for (const slot of slots) {
      const known = this.entries.get(slot.address);
      const moved = known !== undefined && (known.slot.pf !== slot.pf || known.slot.index !== slot.index);
      if (known === undefined || moved) this.entries.set(slot.address, { slot, state: recoverVfState(recover(slot)), present: true });
      else if (!known.present) this.entries.set(slot.address, { ...known, present: true });
    }
    return gone.filter((entry) => entry.present);
  }

  /** Marks the VFs the config took out of the pool while they were held (see `retired`). */
  retire(addresses: ReadonlySet<PciAddress>): void {
    this.retired = new Set(addresses);
  }

  isRetired(address: PciAddress): boolean {
    return this.retired.has(address);
  }

  get(address: PciAddress): PoolEntry | undefined {
    return this.entries.get(address);
  }

  list(): PoolEntry[] {
    return [...this.entries.values()].sort((a, b) => comparePciAddresses(a.slot.address, b.slot.address));
  }

  /** The VF reserved for or attached to `owner`, if any. */
  heldBy(owner: VifOwner): PoolEntry | undefined {
    return [...this.entries.values()].find((entry) => {
      const current = holder(entry.state);
      return current !== undefined && sameOwner(current, owner);
    });
  }

  /** Applies `event` to one VF (VfTransitionError leaves it as it was). */
  apply(address: PciAddress, event: VfEvent): PoolEntry {
    const entry = this.entries.get(address);
    if (entry === undefined) throw new VfTransitionError(`network ${this.network}: VF ${address} is not in the pool (gone, or excluded)`);
    const next = { ...entry, state: nextVfState(entry.state, event) };
    this.entries.set(address, next);
    return next;
  }

  /**
   * A running guest has the VF for `owner` (libvirt's live definition says
   * so): it becomes that owner's, attached. Undefined, and unchanged, when
   * another VIF holds it; a VF not held by anyone is never held twice this way.
   */
  adopt(address: PciAddress, owner: VifOwner): PoolEntry | undefined {
    const entry = this.entries.get(address);
    if (entry === undefined) return undefined;
    const current = holder(entry.state);
    if (current !== undefined) return sameOwner(current, owner) ? entry : undefined;
    const held = this.heldBy(owner);
    if (held !== undefined) return undefined; // the VIF holds another VF: the live definition and vifd disagree
    const next = { ...entry, state: { kind: 'attached', owner } as const };
    this.entries.set(address, next);
    return next;
  }

  counts(): PfCount[] {
    return this.pfs.map(({ pf, pfName }) => {
      const mine = [...this.entries.values()].filter((entry) => entry.slot.pf === pf && entry.present && !this.retired.has(entry.slot.address));
      return { pf, pfName, free: mine.filter((entry) => entry.state.kind === 'free').length, total: mine.length };
    });
  }

  /**
   * Reserves a VF for `request.owner`: the one it already holds, else its
   * previous VF if free (guests and DPDK see the same PCI address), else the
   * lowest free VF of the PF with the most free VFs.
   */
  claim(request: ClaimRequest): PoolEntry {
    const choice = this.choose(request);
    return choice.how === 'held' ? choice.entry : this.apply(choice.entry.slot.address, { kind: 'reserve', owner: request.owner });
  }

  /**
   * The VF `claim` would take, reserving nothing. VFs in `taken` are passed
   * over; VFs in `recorded` too while any other is free (then the first of
   * them, with `sharedWith` naming who records it).
   */
  choose(request: ChooseRequest): VfChoice {
    const held = this.heldBy(request.owner);
    if (held !== undefined) return { entry: held, how: 'held' };
    const taken = request.taken ?? new Set<PciAddress>();
    const previous = request.previous === undefined ? undefined : this.entries.get(request.previous);
    if (previous !== undefined && this.isFree(previous) && !taken.has(previous.slot.address)) return { entry: previous, how: 'previous' };
    const recorded = request.recorded ?? new Map<PciAddress, string>();
    const unrecorded = this.mostFree((entry) => !taken.has(entry.slot.address) && !recorded.has(entry.slot.address));
    if (unrecorded !== undefined) return { entry: unrecorded, how: 'chosen' };
    const shared = this.mostFree((entry) => !taken.has(entry.slot.address));
    if (shared === undefined) throw this.exhausted(request.owner);
    const sharedWith = recorded.get(shared.slot.address);
    return { entry: shared, how: 'chosen', ...(sharedWith === undefined ? {} : { sharedWith }) };
  }

  private isFree(entry: PoolEntry): boolean {
    return entry.state.kind === 'free' && entry.present && !this.retired.has(entry.slot.address);
  }

  private mostFree(eligible: (entry: PoolEntry) => boolean = () => true): PoolEntry | undefined {
    const free = this.list().filter((entry) => this.isFree(entry) && eligible(entry));
    const counts = this.counts();
    const freeOn = (pf: PciAddress): number => counts.find((count) => count.pf === pf)?.free ?? 0;
    const order = (pf: PciAddress): number => counts.findIndex((count) => count.pf === pf);
    return free.sort((a, b) => freeOn(b.slot.pf) - freeOn(a.slot.pf) || order(a.slot.pf) - order(b.slot.pf) || a.slot.index - b.slot.index)[0];
  }

  private exhausted(owner: VifOwner): VfPoolExhaustedError {
    const counts = this.counts().map((count) => `${count.pfName} (${count.pf}) ${count.free} of ${count.total} free`).join(', ');
    return new VfPoolExhaustedError(`network ${this.network}: no free VF on ${counts === '' ? 'no PF' : counts}`, {
      vmUuid: owner.vmUuid, vifIndex: owner.vifIndex, value: this.network,
    });
  }
}
