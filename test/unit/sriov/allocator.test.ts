import assert from 'node:assert/strict';
import { VfPool, VfPoolExhaustedError } from '../../../src/model/sriov/allocator.js';
import type { VfSlot } from '../../../src/model/sriov/allocator.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import type { PciAddress } from '../../../src/model/sriov/pci.js';
import { VfTransitionError, nextVfState, recoverVfState } from '../../../src/model/sriov/release.js';
import type { VfState } from '../../../src/model/sriov/release.js';

const A = parsePciAddress('0000:01:00.0');
const B = parsePciAddress('0000:02:00.0');
const PFS = [{ pf: A, pfName: 'enp1s0' }, { pf: B, pfName: 'enp2s0' }];
const vfAddress = (pf: PciAddress, index: number): PciAddress => parsePciAddress(`${pf.slice(0, 8)}10.${index}`);
const slots = (pf: PciAddress, pfName: string, count: number): VfSlot[] =>
  Array.from({ length: count }, (_, index) => ({ pf, pfName, index, address: vfAddress(pf, index) }));
const owner = (vifIndex: number, vmUuid = 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b') => ({ vmUuid, vifIndex });

function pool(countA: number, countB: number, recover: (slot: VfSlot) => object = () => ({})): VfPool {
  const made = new VfPool('fast');
  made.setInventory(PFS, [...slots(A, 'enp1s0', countA), ...slots(B, 'enp2s0', countB)], recover);
  return made;
}

describe('model/sriov/allocator: choosing and claiming VFs', () => {
  it('takes the lowest free VF of the PF with the most free VFs', () => {
    const p = pool(2, 3);
    assert.equal(p.claim({ owner: owner(0) }).slot.address, vfAddress(B, 0));
    assert.equal(p.claim({ owner: owner(1) }).slot.address, vfAddress(A, 0), 'a tie goes to the PF listed first');
    assert.equal(p.claim({ owner: owner(2) }).slot.address, vfAddress(B, 1));
    assert.deepEqual(p.counts().map((count) => [count.free, count.total]), [[1, 2], [1, 3]]);
  });

  it('is sticky: a VIF gets its previous VF when that is free, another when not', () => {
    const p = pool(2, 2);
    assert.equal(p.claim({ owner: owner(0), previous: vfAddress(A, 1) }).slot.address, vfAddress(A, 1));
    assert.equal(p.claim({ owner: owner(1), previous: vfAddress(A, 1) }).slot.address, vfAddress(B, 0));
  });

  it('claiming twice for one VIF returns the VF it holds', () => {
    const p = pool(2, 0);
    const first = p.claim({ owner: owner(0) });
    p.apply(first.slot.address, { kind: 'attach', owner: owner(0) });
    assert.equal(p.claim({ owner: owner(0) }).slot.address, first.slot.address);
    assert.equal(p.counts()[0]?.free, 1);
  });

  it('an exhausted pool refuses naming the network, every PF and its counts', () => {
    const p = pool(1, 1);
    p.claim({ owner: owner(0) });
    p.claim({ owner: owner(1) });
    assert.throws(() => p.claim({ owner: owner(2) }), (error: unknown) => {
      assert.ok(error instanceof VfPoolExhaustedError);
      assert.equal(error.message, 'VM a44f6903-f1d5-423e-bb20-1c84a87f2e4b VIF 2: network fast: no free VF on enp1s0 (0000:01:00.0) 0 of 1 free, enp2s0 (0000:02:00.0) 0 of 1 free');
      return true;
    });
  });

  it('excluded VFs are simply not in the inventory; a PF without VFs still shows in the counts', () => {
    const p = new VfPool('fast');
    p.setInventory(PFS, slots(A, 'enp1s0', 1), () => ({}));
    assert.deepEqual(p.counts().map((count) => `${count.pfName} ${count.free}/${count.total}`), ['enp1s0 1/1', 'enp2s0 0/0']);
  });

  it('quarantined, releasing and foreign VFs are never handed out', () => {
    const p = pool(3, 0, (slot) => (slot.index === 0 ? { foreignUse: 'bound to pciback' } : slot.index === 1 ? { snapshotOwner: owner(9) } : {}));
    assert.equal(p.get(vfAddress(A, 0))?.state.kind, 'foreign');
    assert.equal(p.get(vfAddress(A, 1))?.state.kind, 'releasing');
    assert.equal(p.claim({ owner: owner(0), previous: vfAddress(A, 1) }).slot.address, vfAddress(A, 2));
    assert.throws(() => p.claim({ owner: owner(1) }), VfPoolExhaustedError);
  });

  it('a rescan keeps known states, recovers new VFs and returns the ones that vanished', () => {
    const p = pool(2, 0);
    p.claim({ owner: owner(0) });
    const vanished = p.setInventory(PFS, slots(A, 'enp1s0', 1).concat(slots(B, 'enp2s0', 1)), () => ({}));
    assert.deepEqual(vanished.map((entry) => entry.slot.address), [vfAddress(A, 1)]);
    assert.equal(p.get(vfAddress(B, 0))?.state.kind, 'free');
    assert.equal(p.get(vfAddress(A, 0))?.state.kind, 'reserved');
    const gone = p.setInventory(PFS, slots(B, 'enp2s0', 1), () => ({}));
    assert.deepEqual(gone.map((entry) => [entry.slot.address, entry.state.kind]), [[vfAddress(A, 0), 'reserved']]);
    assert.equal(p.get(vfAddress(A, 0))?.present, false, 'a held VF that vanished stays its owner\'s');
    assert.deepEqual(p.counts().map((count) => count.total), [0, 1]);
    p.setInventory(PFS, slots(A, 'enp1s0', 2), () => ({}));
    assert.deepEqual([p.get(vfAddress(A, 0))?.state.kind, p.get(vfAddress(A, 0))?.present], ['reserved', true]);
    assert.equal(p.claim({ owner: owner(5), previous: vfAddress(A, 0) }).slot.address, vfAddress(A, 1));
  });

  it('choose reserves nothing: the held VF, else the previous one when free, else the claim rule; a pool that cannot give one refuses with the counts', () => {
    const p = pool(2, 3);
    assert.deepEqual([p.choose({ owner: owner(0) }).entry.slot.address, p.choose({ owner: owner(0) }).how], [vfAddress(B, 0), 'chosen']);
    assert.deepEqual(p.counts().map((count) => count.free), [2, 3], 'nothing reserved');
    assert.deepEqual([p.choose({ owner: owner(0), previous: vfAddress(A, 1) }).entry.slot.address, p.choose({ owner: owner(0), previous: vfAddress(A, 1) }).how], [vfAddress(A, 1), 'previous']);
    p.apply(vfAddress(A, 1), { kind: 'reserve', owner: owner(1) });
    p.apply(vfAddress(A, 1), { kind: 'attach', owner: owner(1) });
    assert.deepEqual([p.choose({ owner: owner(1) }).entry.slot.address, p.choose({ owner: owner(1) }).how], [vfAddress(A, 1), 'held']);
    assert.equal(p.choose({ owner: owner(0), previous: vfAddress(A, 1) }).entry.slot.address, vfAddress(B, 0), 'a previous VF another VIF holds is passed over');
    const full = pool(1, 0);
    full.claim({ owner: owner(7) });
    assert.throws(() => full.choose({ owner: owner(0) }), /network fast: no free VF on enp1s0 \(0000:01:00.0\) 0 of 1 free, enp2s0 \(0000:02:00.0\) 0 of 0 free/);
  });

  it('choose passes over VFs taken in the same request and, while another is free, VFs other definitions record', () => {
    const p = pool(2, 1);
    const recorded = new Map([[vfAddress(A, 0), 'VM "db"']]);
    assert.equal(p.choose({ owner: owner(0), recorded }).entry.slot.address, vfAddress(A, 1));
    assert.equal(p.choose({ owner: owner(0), recorded, taken: new Set([vfAddress(A, 1)]) }).entry.slot.address, vfAddress(B, 0));
    const last = p.choose({ owner: owner(0), recorded, taken: new Set([vfAddress(A, 1), vfAddress(B, 0)]) });
    assert.deepEqual([last.entry.slot.address, last.sharedWith], [vfAddress(A, 0), 'VM "db"'], 'only a recorded VF left: taken, naming who records it');
    assert.throws(() => p.choose({ owner: owner(0), taken: new Set([vfAddress(A, 0), vfAddress(A, 1), vfAddress(B, 0)]) }), VfPoolExhaustedError);
  });

  it('retired VFs (out of the pool since a reload, still held) are never chosen nor counted, and stay their owner\'s', () => {
    const p = pool(2, 0);
    p.claim({ owner: owner(0) });
    p.retire(new Set([vfAddress(A, 0), vfAddress(A, 1)]));
    assert.equal(p.isRetired(vfAddress(A, 1)), true);
    assert.deepEqual(p.counts().map((count) => [count.free, count.total]), [[0, 0], [0, 0]]);
    assert.throws(() => p.claim({ owner: owner(1), previous: vfAddress(A, 1) }), VfPoolExhaustedError);
    assert.equal(p.claim({ owner: owner(0) }).slot.address, vfAddress(A, 0), 'its holder keeps it');
  });

  it('apply on a VF that is not in the pool is a transition error', () => {
    assert.throws(() => pool(1, 0).apply(vfAddress(B, 3), { kind: 'retry' }), VfTransitionError);
  });
});

describe('model/sriov/release: the VF state machine', () => {
  const o = owner(0);
  const walk = (events: Parameters<typeof nextVfState>[1][], from: VfState = { kind: 'free' }): VfState => events.reduce(nextVfState, from);

  it('free -> reserved -> attached -> releasing -> free (clean restore)', () => {
    assert.deepEqual(walk([{ kind: 'reserve', owner: o }, { kind: 'attach', owner: o }, { kind: 'release', owner: o, proof: 'vm-stopped' }]), { kind: 'releasing', owner: o });
    assert.deepEqual(walk([{ kind: 'reserve', owner: o }, { kind: 'release', owner: o, proof: 'start-failed' }, { kind: 'restored', clean: true }]), { kind: 'free' });
  });

  it('a dirty restore quarantines; each failed retry counts', () => {
    const quarantined = walk([{ kind: 'reserve', owner: o }, { kind: 'release', owner: o, proof: 'device-removed' }, { kind: 'restored', clean: false, reason: 'mac reads back 02:..' }]);
    assert.deepEqual(quarantined, { kind: 'quarantined', reason: 'mac reads back 02:..', attempts: 1 });
    assert.deepEqual(walk([{ kind: 'retry' }, { kind: 'restored', clean: false, reason: 'again' }], quarantined), { kind: 'quarantined', reason: 'again', attempts: 2 });
    assert.deepEqual(walk([{ kind: 'retry' }, { kind: 'restored', clean: true }], quarantined), { kind: 'free' });
  });

  const refused: [string, VfState, Parameters<typeof nextVfState>[1]][] = [
    ['reserve a reserved VF', { kind: 'reserved', owner: o }, { kind: 'reserve', owner: owner(1) }],
    ['release for another VIF', { kind: 'attached', owner: o }, { kind: 'release', owner: owner(1), proof: 'vm-stopped' }],
    ['release a free VF', { kind: 'free' }, { kind: 'release', owner: o, proof: 'vm-stopped' }],
    ['attach a free VF', { kind: 'free' }, { kind: 'attach', owner: o }],
    ['attach for another VIF', { kind: 'reserved', owner: o }, { kind: 'attach', owner: owner(1) }],
    ['finish a restore that never started', { kind: 'attached', owner: o }, { kind: 'restored', clean: true }],
    ['call a held VF foreign', { kind: 'attached', owner: o }, { kind: 'found-foreign', reason: 'x' }],
    ['retry a free VF', { kind: 'free' }, { kind: 'retry' }],
  ];
  for (const [name, state, event] of refused) {
    it(`refuses to ${name}`, () => assert.throws(() => nextVfState(state, event), VfTransitionError));
  }

  it('a foreign VF that is given up is free again (vifd never touched it)', () => {
    assert.deepEqual(walk([{ kind: 'found-foreign', reason: 'pciback' }, { kind: 'foreign-gone' }]), { kind: 'free' });
  });

  it('recovery after a crash: running owner, snapshot, foreign use, nothing', () => {
    assert.deepEqual(recoverVfState({ runningUser: o, snapshotOwner: o }), { kind: 'attached', owner: o });
    assert.deepEqual(recoverVfState({ snapshotOwner: o }), { kind: 'releasing', owner: o });
    assert.deepEqual(recoverVfState({ foreignUse: 'vfio-pci, not vifd' }), { kind: 'foreign', reason: 'vfio-pci, not vifd' });
    assert.deepEqual(recoverVfState({}), { kind: 'free' });
  });
});
