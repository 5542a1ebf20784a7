// Random lives of a small host: VMs start (VF by VF) and stop, restores fail
// and are retried, vifd crashes and rebuilds its pool from what survives (the
// snapshots on disk and libvirt's running guests), a PF's VFs vanish and come
// back. After every step: no VF is held twice, and nothing leaks; after all
// guests stop and restores succeed, every VF is free and no snapshot is left.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VfPool, VfPoolExhaustedError } from '../../../src/model/sriov/allocator.js';
import type { VfSlot } from '../../../src/model/sriov/allocator.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import type { PciAddress } from '../../../src/model/sriov/pci.js';
import { sameOwner } from '../../../src/model/sriov/release.js';
import type { VifOwner } from '../../../src/model/sriov/release.js';

const PFS = [{ pf: parsePciAddress('0000:01:00.0'), pfName: 'enp1s0' }, { pf: parsePciAddress('0000:02:00.0'), pfName: 'enp2s0' }];
const VFS_PER_PF = 3;
const VMS = ['vm-0', 'vm-1', 'vm-2', 'vm-3'];
const VIFS_PER_VM = 2;
const ALL_SLOTS: VfSlot[] = PFS.flatMap(({ pf, pfName }) =>
  Array.from({ length: VFS_PER_PF }, (_, index) => ({ pf, pfName, index, address: parsePciAddress(`${pf.slice(0, 8)}10.${index}`) })));
const key = (owner: VifOwner): string => `${owner.vmUuid}/${owner.vifIndex}`;

type Op =
  | { op: 'reserve'; vm: number; vif: number }
  | { op: 'start'; vm: number }
  | { op: 'abort'; vm: number }
  | { op: 'stop'; vm: number }
  | { op: 'restore'; vf: number; clean: boolean }
  | { op: 'retry'; vf: number }
  | { op: 'crash' }
  | { op: 'blind-crash' }
  | { op: 'learn' }
  | { op: 'vanish'; pf: number }
  | { op: 'return'; pf: number };

const vm = fc.integer({ min: 0, max: VMS.length - 1 });
const vf = fc.integer({ min: 0, max: ALL_SLOTS.length - 1 });
const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('reserve' as const), vm, vif: fc.integer({ min: 0, max: VIFS_PER_VM - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('start' as const), vm }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('abort' as const), vm }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('stop' as const), vm }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('restore' as const), vf, clean: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('retry' as const), vf }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('crash' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('blind-crash' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('learn' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('vanish' as const), pf: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('return' as const), pf: fc.integer({ min: 0, max: 1 }) }) },
);

/** The host as it survives a vifd crash, plus vifd's in-memory pool and in-flight starts. */
class Host {
  /** Restore snapshots on disk: VF -> owner (written before the VF is touched). */
  readonly snapshots = new Map<PciAddress, VifOwner>();
  /** libvirt: running guests and the VF each of their VIFs has. */
  readonly running = new Map<string, Map<number, PciAddress>>();
  /** The domain definitions: the VF each VIF had last (sticky choice). */
  readonly lastVf = new Map<string, PciAddress>();
  readonly presentPfs = new Set(PFS.map(({ pf }) => pf));
  /** vifd's memory: reservations of starts in progress (lost on crash). */
  starting = new Map<string, Map<number, PciAddress>>();
  pool = new VfPool('fast');
  /**
   * False after a restart that could not ask libvirt yet (blind-crash): VFs of
   * running guests were recovered from their snapshots as releasing, and no
   * restore may run until the running guests are learnt (SriovVfs.maintain).
   */
  ownersKnown = true;

  constructor() { this.rescan(); }

  rescan(blind = !this.ownersKnown): void {
    const slots = ALL_SLOTS.filter((slot) => this.presentPfs.has(slot.pf));
    this.pool.setInventory(PFS, slots, (slot) => {
      const user = blind ? undefined : [...this.running].flatMap(([uuid, vifs]) => [...vifs].filter(([, address]) => address === slot.address).map(([vifIndex]) => ({ vmUuid: uuid, vifIndex })))[0];
      const snapshotOwner = this.snapshots.get(slot.address);
      return { ...(user === undefined ? {} : { runningUser: user }), ...(snapshotOwner === undefined ? {} : { snapshotOwner }) };
    });
  }

  /** A VM stopped or its start was given up: each VF it held goes to releasing (the event is the proof). */
  private releaseAll(uuid: string, vifs: Map<number, PciAddress>, proof: 'vm-stopped' | 'start-failed'): void {
    for (const [vifIndex, address] of vifs) {
      const owner = { vmUuid: uuid, vifIndex };
      const entry = this.pool.get(address);
      if (entry !== undefined && (entry.state.kind === 'reserved' || entry.state.kind === 'attached') && sameOwner(entry.state.owner, owner)) {
        this.pool.apply(address, { kind: 'release', owner, proof });
      }
    }
  }

  step(op: Op): void {
    switch (op.op) {
      case 'reserve': {
        const uuid = VMS[op.vm] ?? '';
        if (this.running.has(uuid)) return;
        const owner = { vmUuid: uuid, vifIndex: op.vif };
        try {
          const previous = this.lastVf.get(key(owner));
          const entry = this.pool.claim(previous === undefined ? { owner } : { owner, previous });
          this.snapshots.set(entry.slot.address, owner); // before touching the VF
          this.lastVf.set(key(owner), entry.slot.address);
          const vifs = this.starting.get(uuid) ?? new Map<number, PciAddress>();
          vifs.set(op.vif, entry.slot.address);
          this.starting.set(uuid, vifs);
        } catch (error) {
          if (!(error instanceof VfPoolExhaustedError)) throw error;
        }
        return;
      }
      case 'start': {
        const uuid = VMS[op.vm] ?? '';
        const vifs = this.starting.get(uuid);
        if (vifs === undefined || this.running.has(uuid)) return;
        // libvirt refuses to start with a VF that is not there.
        if ([...vifs.values()].some((address) => this.pool.get(address)?.present !== true)) return;
        this.starting.delete(uuid);
        this.running.set(uuid, vifs);
        for (const [vifIndex, address] of vifs) this.pool.apply(address, { kind: 'attach', owner: { vmUuid: uuid, vifIndex } });
        return;
      }
      case 'abort': {
        const uuid = VMS[op.vm] ?? '';
        const vifs = this.starting.get(uuid);
        if (vifs === undefined) return;
        this.starting.delete(uuid);
        this.releaseAll(uuid, vifs, 'start-failed');
        return;
      }
      case 'stop': {
        const uuid = VMS[op.vm] ?? '';
        const vifs = this.running.get(uuid);
        if (vifs === undefined) return;
        this.running.delete(uuid);
        this.releaseAll(uuid, vifs, 'vm-stopped');
        return;
      }
      case 'restore': {
        const address = ALL_SLOTS[op.vf]?.address;
        const entry = address === undefined ? undefined : this.pool.get(address);
        if (address === undefined || entry?.state.kind !== 'releasing' || !entry.present) return; // a restore needs the VF there
        if (!this.ownersKnown) return; // the guard: a recovered VF may still be in a running guest
        if (op.clean) this.snapshots.delete(address); // the snapshot goes only after a clean read-back
        this.pool.apply(address, op.clean ? { kind: 'restored', clean: true } : { kind: 'restored', clean: false, reason: 'reads back dirty' });
        return;
      }
      case 'retry': {
        const address = ALL_SLOTS[op.vf]?.address;
        if (address !== undefined && this.pool.get(address)?.state.kind === 'quarantined') this.pool.apply(address, { kind: 'retry' });
        return;
      }
      case 'crash':
      case 'blind-crash':
        this.pool = new VfPool('fast');
        this.starting = new Map();
        this.ownersKnown = op.op === 'crash';
        this.rescan();
        return;
      case 'learn':
        // libvirt answers: every running guest's VF is adopted by its VIF (SriovNetworkPool.adoptRunning).
        for (const [uuid, vifs] of this.running) for (const [vifIndex, address] of vifs) this.pool.adopt(address, { vmUuid: uuid, vifIndex });
        this.ownersKnown = true;
        return;
      case 'vanish':
      case 'return': {
        const pf = PFS[op.pf]?.pf;
        if (pf === undefined) return;
        if (op.op === 'vanish') this.presentPfs.delete(pf);
        else this.presentPfs.add(pf);
        this.rescan();
      }
    }
  }

  checkInvariants(): void {
    const holders = new Map<PciAddress, string[]>();
    const hold = (address: PciAddress, who: string): void => { holders.set(address, [...(holders.get(address) ?? []), who]); };
    for (const [uuid, vifs] of [...this.running, ...this.starting]) for (const [vifIndex, address] of vifs) hold(address, `${uuid}/${vifIndex}`);
    for (const [address, who] of holders) assert.ok(who.length <= 1, `VF ${address} held twice: ${who.join(', ')}`);
    for (const entry of this.pool.list()) {
      const { state, slot } = entry;
      const who = holders.get(slot.address) ?? [];
      if (state.kind === 'free') assert.deepEqual(who, [], `free VF ${slot.address} is in use by ${who.join(', ')}`);
      if (state.kind === 'free') assert.ok(!this.snapshots.has(slot.address), `free VF ${slot.address} still has a snapshot (a restore was skipped)`);
      // Before the running guests are learnt, their VFs are releasing (never restored meanwhile, see 'restore').
      if (state.kind === 'quarantined' || (state.kind === 'releasing' && this.ownersKnown)) assert.deepEqual(who, [], `${state.kind} VF ${slot.address} is still held by ${who.join(', ')}`);
      if (state.kind === 'reserved' || state.kind === 'attached') {
        assert.deepEqual(who, [key(state.owner)], `${state.kind} VF ${slot.address} for ${key(state.owner)}, but held by [${who.join(', ')}] (leak)`);
      }
    }
    for (const [address, who] of holders) {
      const entry = this.pool.get(address);
      if (this.presentPfs.has(ALL_SLOTS.find((slot) => slot.address === address)?.pf ?? PFS[0]!.pf)) {
        assert.ok(entry !== undefined && entry.present, `VF ${address} held by ${who.join(', ')} is not in the pool`);
      }
      const recovered = !this.ownersKnown && entry?.state.kind === 'releasing';
      if (entry !== undefined && !recovered) assert.ok(entry.state.kind === 'reserved' || entry.state.kind === 'attached', `VF ${address} held by ${who.join(', ')} is ${entry.state.kind}`);
    }
    const owners = this.pool.list().flatMap((entry) => (entry.state.kind === 'reserved' || entry.state.kind === 'attached' ? [key(entry.state.owner)] : []));
    assert.equal(new Set(owners).size, owners.length, `a VIF holds two VFs: ${owners.join(', ')}`);
  }

  /** Everything stops, every PF is back, every restore succeeds: every VF must end free. */
  drain(): void {
    this.step({ op: 'learn' });
    for (const op of [...this.starting.keys()]) this.step({ op: 'abort', vm: VMS.indexOf(op) });
    for (const op of [...this.running.keys()]) this.step({ op: 'stop', vm: VMS.indexOf(op) });
    for (const pf of [0, 1]) this.step({ op: 'return', pf });
    for (const [at] of ALL_SLOTS.entries()) { this.step({ op: 'retry', vf: at }); this.step({ op: 'restore', vf: at, clean: true }); }
    this.checkInvariants();
    assert.deepEqual(this.pool.list().filter((entry) => entry.state.kind !== 'free').map((entry) => `${entry.slot.address} ${entry.state.kind}`), []);
    assert.deepEqual([...this.snapshots.keys()], []);
  }
}

describe('model/sriov: pool + release state machine under random lives (property)', () => {
  it('never assigns a VF twice and never leaks one', () => {
    fc.assert(fc.property(fc.array(ops, { maxLength: 80 }), (sequence) => {
      const host = new Host();
      for (const op of sequence) {
        host.step(op);
        host.checkInvariants();
      }
      host.drain();
    }), { numRuns: 400 });
  });

  it('a reservation whose VF vanished and came back is not handed out twice', () => {
    const host = new Host();
    host.step({ op: 'reserve', vm: 0, vif: 0 });
    const address = [...host.snapshots.keys()][0]!;
    const pf = PFS.findIndex((candidate) => address.startsWith(candidate.pf.slice(0, 8)));
    host.step({ op: 'vanish', pf });
    host.step({ op: 'return', pf });
    host.step({ op: 'restore', vf: ALL_SLOTS.findIndex((slot) => slot.address === address), clean: true });
    host.checkInvariants();
  });

  it('the property can fail: a release that skips the restore is caught', () => {
    const host = new Host();
    host.step({ op: 'reserve', vm: 0, vif: 0 });
    const address = [...host.snapshots.keys()][0]!;
    host.pool.apply(address, { kind: 'release', owner: { vmUuid: 'vm-0', vifIndex: 0 }, proof: 'start-failed' });
    host.pool.apply(address, { kind: 'restored', clean: true }); // without deleting the snapshot: not a real clean restore
    assert.throws(() => host.checkInvariants(), /in use by vm-0\/0|still has a snapshot/);
  });
});
