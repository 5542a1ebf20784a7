// The real VF pool code (discovery, allocation, snapshot, binding, netlink
// settings with read-back, release, crash recovery) against the fake kernel
// sysfs tree and a fake PF driver with igb's measured behaviour.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VfNetlinkError, VfReadBackError } from '../../../src/host/sriov/errors.js';
import { SriovNetworkPool } from '../../../src/host/sriov/network-pool.js';
import { VfSnapshotStore } from '../../../src/host/sriov/snapshots.js';
import { SriovSysfs } from '../../../src/host/sriov/sysfs.js';
import type { SysfsIo } from '../../../src/host/sriov/sysfs.js';
import { VfPoolExhaustedError } from '../../../src/model/sriov/allocator.js';
import { parseSriovConfig } from '../../../src/model/sriov/config.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import { FakeSriovKernel } from '../../harness/fake-sysfs/kernel.js';

const PF = parsePciAddress('0000:01:00.0');
const PF2 = parsePciAddress('0000:02:00.0');
const UUID = 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b';
const owner = (vifIndex: number, vmUuid = UUID) => ({ vmUuid, vifIndex });
const MAC = '52:54:00:9b:d9:10';

describe('integration: sriov network pool on a fake kernel', () => {
  let kernel: FakeSriovKernel;
  let stateDir: string;
  let bootIdPath: string;
  const logs: string[] = [];

  function makePool(sriov: Record<string, unknown> = {}, vlanTag = 100, io: SysfsIo = kernel): SriovNetworkPool {
    const config = parseSriovConfig({ pfs: ['enp1s0', PF2], max_tx_rate: 500, ...sriov }, { mode: 'access', tag: vlanTag }, 'networks.fast');
    return new SriovNetworkPool({
      network: 'fast', config, sysfs: new SriovSysfs(kernel.root, io), netlink: kernel.netlink,
      snapshots: new VfSnapshotStore(join(stateDir, 'sriov'), { bootIdPath, log: (line) => logs.push(line) }), log: (line) => logs.push(line),
    });
  }

  beforeEach(async () => {
    kernel = await FakeSriovKernel.create();
    await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 2 });
    await kernel.addPf({ address: PF2, netdev: 'enp2s0', totalVfs: 7, numVfs: 1 });
    stateDir = await mkdtemp(join(tmpdir(), 'vifd-sriov-state-'));
    bootIdPath = join(stateDir, 'boot_id');
    await writeFile(bootIdPath, '11111111-2222-3333-4444-555555555555\n');
    logs.length = 0;
  });
  afterEach(async () => {
    await kernel.remove();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('assigns a VF: snapshot first, vfio-pci, then one attribute per request, each read back', async () => {
    const pool = makePool();
    await pool.scan();
    const assigned = await pool.assign(owner(0), { mac: MAC });
    assert.equal(assigned.slot.address, '0000:01:10.0', 'enp1s0 has the most free VFs');
    assert.deepEqual(assigned.skipped, [{ kind: 'link-state', state: 'auto' }], 'igb has no link-state op; auto is its default');
    assert.deepEqual(kernel.netlink.vf('enp1s0', 0), {
      index: 0, mac: MAC, vlan: 100, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 500,
    });
    assert.deepEqual(kernel.netlink.calls, ['mac', 'vlan', 'spoofchk', 'trust', 'link-state', 'rate'].map((kind) => `enp1s0 vf 0 ${kind}`));
    assert.equal(await kernel.boundDriver('0000:01:10.0'), 'vfio-pci');
    const snapshot = JSON.parse(await readFile(join(stateDir, 'sriov', '0000:01:10.0.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(snapshot.owner, owner(0));
    assert.equal(snapshot.bootId, '11111111-2222-3333-4444-555555555555');
    assert.equal(snapshot.driver, 'igbvf');
    assert.deepEqual(snapshot.original, { index: 0, mac: '00:00:00:00:00:00', vlan: 0, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 0 });
  });

  it('release after the VM stopped restores the original settings and driver, removes the snapshot, frees the VF', async () => {
    const pool = makePool();
    await pool.scan();
    kernel.netlink.tamper('enp1s0', 0, { mac: '02:aa:00:00:00:01', trust: true });
    await pool.assign(owner(0), { mac: MAC });
    pool.markAttached(owner(0));
    assert.deepEqual(await pool.release(owner(0), 'vm-stopped'), { kind: 'free' });
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, '02:aa:00:00:00:01');
    assert.equal(kernel.netlink.vf('enp1s0', 0).trust, true);
    assert.equal(kernel.netlink.vf('enp1s0', 0).vlan, 0);
    assert.equal(await kernel.boundDriver('0000:01:10.0'), 'igbvf');
    assert.deepEqual(await readdir(join(stateDir, 'sriov')), []);
  });

  it("reads a VF's driver state once before and once after each driver change, no more (bench/sriov.bench.ts: each read costs)", async () => {
    const reads: string[] = [];
    const counting: SysfsIo = {
      readText: (path) => { reads.push(path); return kernel.readText(path); },
      readLink: (path) => kernel.readLink(path), list: (path) => kernel.list(path), write: (path, text) => kernel.write(path, text),
    };
    const pool = makePool({}, 100, counting);
    await pool.scan();
    const overrides = (): number => reads.splice(0).filter((path) => path.endsWith('0000:01:10.0/driver_override')).length;
    overrides();
    await pool.assign(owner(0), { mac: MAC });
    // The snapshot's read (driver and override to restore), then bindVf's own before and after.
    assert.equal(overrides(), 3, 'assign');
    pool.markAttached(owner(0));
    assert.deepEqual(await pool.release(owner(0), 'vm-stopped'), { kind: 'free' });
    // bindVf's before and after (back to igbvf), then the read back once driver_override is cleared.
    assert.equal(overrides(), 3, 'release');
    assert.equal(await kernel.boundDriver('0000:01:10.0'), 'igbvf');
  });

  it('asks the PF driver for a default-valued attribute it has no operation for once, not on every assign and release', async () => {
    const pool = makePool();
    await pool.scan();
    await pool.assign(owner(0), { mac: MAC, previous: parsePciAddress('0000:01:10.0') });
    assert.ok(kernel.netlink.calls.includes('enp1s0 vf 0 link-state'), 'the first assign finds out');
    kernel.netlink.calls.length = 0;
    await pool.release(owner(0), 'vm-stopped');
    const again = await pool.assign(owner(1), { mac: MAC, previous: parsePciAddress('0000:01:10.2') });
    assert.deepEqual(again.skipped, [{ kind: 'link-state', state: 'auto' }]);
    assert.deepEqual(kernel.netlink.calls.filter((call) => call.endsWith('link-state')), [], 'neither the restore nor another VF of that PF asks again');
    assert.equal(kernel.netlink.vf('enp1s0', 1).maxTxRate, 500, 'the attributes after it are still set');
  });

  it('is sticky: the VIF gets its previous VF back when it is free', async () => {
    const pool = makePool();
    await pool.scan();
    assert.equal((await pool.assign(owner(0), { mac: MAC, previous: parsePciAddress('0000:01:10.2') })).slot.address, '0000:01:10.2');
  });

  it('a refused attribute rolls the VF back and frees it; the error names PF, VF and attribute', async () => {
    const pool = makePool({ link_state: 'enable' });
    await pool.scan();
    await assert.rejects(pool.assign(owner(0), { mac: MAC }), (error: unknown) => {
      assert.ok(error instanceof VfNetlinkError);
      assert.match(error.message, /^PF enp1s0 VF 0 link-state: setting state enable failed: EOPNOTSUPP/);
      return true;
    });
    assert.equal(pool.pool.get(parsePciAddress('0000:01:10.0'))?.state.kind, 'free');
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, '00:00:00:00:00:00');
    assert.equal(kernel.netlink.vf('enp1s0', 0).maxTxRate, 0);
    assert.equal(await kernel.boundDriver('0000:01:10.0'), 'igbvf');
  });

  it('a value accepted but not applied is a read-back error', async () => {
    const pool = makePool();
    await pool.scan();
    kernel.netlink.injectFault('vlan', 'ignore');
    await assert.rejects(pool.assign(owner(0), { mac: MAC }), (error: unknown) =>
      error instanceof VfReadBackError && /^PF enp1s0 VF 0 vlan: set vlan 100 qos 0 proto 802.1Q, reads back vlan 0/.test(error.message));
  });

  it('a restore that does not read back quarantines the VF (snapshot kept); a later retry frees it', async () => {
    const pool = makePool();
    await pool.scan();
    await pool.assign(owner(0), { mac: MAC });
    kernel.netlink.injectFault('mac', 'ignore');
    const state = await pool.release(owner(0), 'device-removed');
    assert.equal(state?.kind, 'quarantined');
    assert.match(logs.join('\n'), /VF 0000:01:10.0 quarantined: PF enp1s0 VF 0 mac: set mac 00:00:00:00:00:00, reads back 52:54:00:9b:d9:10/);
    assert.deepEqual(await readdir(join(stateDir, 'sriov')), ['0000:01:10.0.json']);
    assert.notEqual((await pool.assign(owner(1), { mac: MAC, previous: parsePciAddress('0000:01:10.0') })).slot.address, '0000:01:10.0');
    await pool.finishReleases();
    assert.equal(pool.pool.get(parsePciAddress('0000:01:10.0'))?.state.kind, 'free');
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, '00:00:00:00:00:00');
  });

  it('after a crash: a running guest keeps its VF, a VF with a snapshot and no guest is restored', async () => {
    const before = makePool();
    await before.scan();
    await before.assign(owner(0), { mac: MAC });
    await before.assign(owner(1), { mac: '52:54:00:00:00:02' });
    const after = makePool();
    await after.scan({ runningUsers: new Map([[parsePciAddress('0000:01:10.0'), owner(0)]]) });
    const states = after.pool.list().map((entry) => `${entry.slot.address} ${entry.state.kind}`);
    assert.deepEqual(states, ['0000:01:10.0 attached', '0000:01:10.2 releasing', '0000:02:10.0 free']);
    await after.finishReleases();
    assert.equal(after.pool.get(parsePciAddress('0000:01:10.2'))?.state.kind, 'free');
    assert.equal(kernel.netlink.vf('enp1s0', 1).mac, '00:00:00:00:00:00');
    assert.equal(await kernel.boundDriver('0000:01:10.2'), 'igbvf');
    assert.deepEqual(await readdir(join(stateDir, 'sriov')), ['0000:01:10.0.json']);
  });

  it('a VF held only from a running guest (no snapshot) is snapshotted before vifd first sets it; its release restores the original', async () => {
    kernel.netlink.tamper('enp1s0', 0, { mac: '02:aa:00:00:00:01' });
    const pool = makePool();
    await pool.scan({ runningUsers: new Map([[parsePciAddress('0000:01:10.0'), owner(0)]]) });
    assert.equal(pool.pool.get(parsePciAddress('0000:01:10.0'))?.state.kind, 'attached');
    // The engine repairs drifted attributes concurrently: both share the one snapshot, taken before either.
    await Promise.all([pool.setAttribute(owner(0), { kind: 'trust', on: true }), pool.setAttribute(owner(0), { kind: 'spoofchk', on: false })]);
    const original = async (): Promise<{ mac: string; trust: boolean }> =>
      (JSON.parse(await readFile(join(stateDir, 'sriov', '0000:01:10.0.json'), 'utf8')) as { original: { mac: string; trust: boolean } }).original;
    assert.deepEqual([(await original()).mac, (await original()).trust], ['02:aa:00:00:00:01', false], 'read before the repair');
    await pool.assign(owner(0), { mac: MAC });
    assert.equal((await original()).mac, '02:aa:00:00:00:01', 'the first snapshot stays');
    assert.deepEqual(await pool.release(owner(0), 'vm-stopped'), { kind: 'free' });
    assert.deepEqual([kernel.netlink.vf('enp1s0', 0).mac, kernel.netlink.vf('enp1s0', 0).trust, kernel.netlink.vf('enp1s0', 0).vlan], ['02:aa:00:00:00:01', false, 0]);
  });

  it('a snapshot of another boot is discarded and logged, never applied', async () => {
    const before = makePool();
    await before.scan();
    await before.assign(owner(0), { mac: MAC });
    await writeFile(bootIdPath, '99999999-2222-3333-4444-555555555555\n');
    const after = makePool();
    await after.scan();
    assert.equal(after.pool.get(parsePciAddress('0000:01:10.0'))?.state.kind, 'foreign', 'still on vfio-pci, and no snapshot of this boot says it is vifd\'s');
    assert.match(logs.join('\n'), /discarding the restore snapshot of VF 0000:01:10.0 .* taken in boot 11111111-2222-3333-4444-555555555555, this is boot 99999999/);
    assert.deepEqual(await readdir(join(stateDir, 'sriov')), []);
  });

  it('a VF whose snapshot cannot be read is quarantined and stays so on retry', async () => {
    const before = makePool();
    await before.scan();
    await before.assign(owner(0), { mac: MAC });
    await writeFile(join(stateDir, 'sriov', '0000:01:10.0.json'), '{"trunc');
    const after = makePool();
    const { unreadable } = await after.scan();
    assert.match(unreadable[0] ?? '', /^0000:01:10.0.json: 0000:01:10.0.json is not JSON/);
    assert.equal(after.pool.get(parsePciAddress('0000:01:10.0'))?.state.kind, 'quarantined');
    await after.finishReleases();
    assert.equal(after.pool.get(parsePciAddress('0000:01:10.0'))?.state.kind, 'quarantined');
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, MAC, 'nothing was applied from a snapshot that cannot be read');
  });

  it('a VF bound to vfio-pci by someone else is foreign; excluded VFs are not in the pool', async () => {
    await kernel.write(join(kernel.root, 'bus/pci/devices/0000:01:10.2/driver_override'), 'vfio-pci');
    await kernel.write(join(kernel.root, 'bus/pci/devices/0000:01:10.2/driver/unbind'), '0000:01:10.2');
    await kernel.write(join(kernel.root, 'bus/pci/drivers_probe'), '0000:01:10.2');
    const pool = makePool({ exclude: ['0000:01:10.0'] });
    await pool.scan();
    assert.deepEqual(pool.pool.list().map((entry) => `${entry.slot.address} ${entry.state.kind}`), ['0000:01:10.2 foreign', '0000:02:10.0 free']);
  });

  it('enables VFs on a PF whose sriov_numvfs is 0 when num_vfs is configured, never changes a non-zero count', async () => {
    const pf3 = parsePciAddress('0000:03:00.0');
    await kernel.addPf({ address: pf3, netdev: 'enp3s0', totalVfs: 7 });
    const config = parseSriovConfig({ pfs: ['enp3s0', 'enp1s0'], num_vfs: 3 }, { mode: 'none' }, 'networks.fast');
    const pool = new SriovNetworkPool({ network: 'fast', config, sysfs: new SriovSysfs(kernel.root, kernel), netlink: kernel.netlink, snapshots: new VfSnapshotStore(join(stateDir, 's'), { bootIdPath }) });
    await pool.scan();
    assert.deepEqual(pool.pool.counts().map((count) => `${count.pfName} ${count.free}/${count.total}`), ['enp3s0 3/3', 'enp1s0 2/2']);
  });

  it('concurrent assigns never share a VF; the one too many is refused naming PFs and counts', async () => {
    const pool = makePool();
    await pool.scan();
    const results = await Promise.allSettled([0, 1, 2, 3].map((index) => pool.assign(owner(index), { mac: `52:54:00:00:00:0${index}` })));
    const addresses = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value.slot.address] : []));
    assert.equal(new Set(addresses).size, 3);
    const refused = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    assert.equal(refused.length, 1);
    assert.ok(refused[0] instanceof VfPoolExhaustedError);
    assert.match(refused[0].message, /network fast: no free VF on enp1s0 \(0000:01:00.0\) 0 of 2 free, enp2s0 \(0000:02:00.0\) 0 of 1 free/);
  });

  it('VFs re-created under an attached guest: the VF stays its owner\'s, and assign again re-applies its wiped config', async () => {
    const pool = makePool();
    await pool.scan();
    await pool.assign(owner(0), { mac: MAC });
    pool.markAttached(owner(0));
    await kernel.recreateVfs(PF, 2);
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, '00:00:00:00:00:00');
    await pool.scan();
    assert.equal(pool.pool.get(parsePciAddress('0000:01:10.0'))?.state.kind, 'attached');
    await pool.assign(owner(0), { mac: MAC });
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, MAC);
    const snapshot = JSON.parse(await readFile(join(stateDir, 'sriov', '0000:01:10.0.json'), 'utf8')) as { original: { mac: string } };
    assert.equal(snapshot.original.mac, '00:00:00:00:00:00', 'the first snapshot stays');
  });
});
