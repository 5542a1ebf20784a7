// The sriov-vf kind through the real engine, planner and registry, on the
// fake kernel's sysfs tree: the VF pool code, its snapshots on disk and its
// sysfs writes are real; the PF driver's rtnetlink side is the fake with igb's
// measured behaviour (no kernel here has an SR-IOV NIC or netdevsim: the real
// driver is exercised in test/e2e/sriov/).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import type { EngineLog } from '../../../src/engine/types.js';
import { SriovNetworkPool } from '../../../src/host/sriov/network-pool.js';
import { VfSnapshotStore } from '../../../src/host/sriov/snapshots.js';
import { SriovSysfs } from '../../../src/host/sriov/sysfs.js';
import { SriovVfs } from '../../../src/host/sriov/vf-host.js';
import type { VmSnapshot, VmSource, VmSummary } from '../../../src/model/contracts.js';
import { LimitExceededError } from '../../../src/model/errors.js';
import { KVM_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import type { PlanSettings } from '../../../src/model/plan.js';
import { VfPoolExhaustedError } from '../../../src/model/sriov/allocator.js';
import { parseSriovConfig } from '../../../src/model/sriov/config.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import type { VifIntent, VmIntent } from '../../../src/model/vm-intent.js';
import { FakeSriovKernel } from '../../harness/fake-sysfs/kernel.js';

const PF = parsePciAddress('0000:01:00.0');
const PF2 = parsePciAddress('0000:02:00.0');
const VM_A = 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b';
const VM_B = '0b5e3c1a-8d2f-4e6a-9c7b-1f2e3d4c5b6a';
const quiet: EngineLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** VMs in memory, as any source hands them over: a TAP intent on an SR-IOV network (the kind follows from the network). */
class Vms implements VmSource {
  readonly vms = new Map<string, { intent: VmIntent; active: boolean }>();
  add(uuid: string, name: string, count: number, active = false, extra: Partial<VifIntent> = {}): void {
    const vifs = Array.from({ length: count }, (_, index) => ({ index, kind: 'tap', network: 'fast', ...extra }) as VifIntent);
    this.vms.set(uuid, { intent: { uuid, name, vifs, others: [] }, active });
  }

  starting(uuid: string) {
    const vm = this.vms.get(uuid);
    if (vm === undefined) throw new Error(uuid);
    return { read: () => Promise.resolve({ intent: vm.intent }) };
  }

  list(): Promise<VmSummary[]> {
    return Promise.resolve([...this.vms.values()].map(({ intent, active }) => ({ uuid: intent.uuid, name: intent.name, active })));
  }

  get(uuid: string): Promise<VmSnapshot | null> {
    const vm = this.vms.get(uuid);
    if (vm === undefined) return Promise.resolve(null);
    return Promise.resolve({ uuid, name: vm.intent.name, active: vm.active,
      running: () => Promise.resolve({ intent: vm.intent, present: new Set<number>() }), definition: () => Promise.resolve({ intent: vm.intent, accept: () => undefined }) });
  }
}

/** The other kinds' effectors, empty: this host has only SR-IOV VIFs. */
const noTaps = {
  taps: { ensure: () => { throw new Error('no TAPs here'); }, delete: () => false, list: () => [], listKnown: () => [] },
  ports: { ensure: () => Promise.reject(new Error('no ports here')), remove: () => Promise.resolve(), owned: { all: () => [], ofVm: () => [], macUsers: () => [] } },
  devices: { exists: () => false, read: () => null, configure: () => [], down: () => false },
  flows: { apply: () => Promise.reject(new Error('no flows here')), remove: () => Promise.resolve() },
};

describe('integration: the sriov-vf kind through the engine on a fake kernel', () => {
  let kernel: FakeSriovKernel;
  let stateDir: string;
  let vfs: SriovVfs;
  let source: Vms;
  let engine: Engine;
  let pool: SriovNetworkPool;
  const config = parseSriovConfig({ pfs: ['enp1s0', PF2], max_tx_rate: 500 }, { mode: 'access', tag: 100 }, 'networks.fast');

  function makeVfs(): SriovVfs {
    pool = new SriovNetworkPool({
      network: 'fast', config, sysfs: new SriovSysfs(kernel.root, kernel), netlink: kernel.netlink,
      snapshots: new VfSnapshotStore(join(stateDir, 'sriov'), { bootIdPath: join(stateDir, 'boot_id') }),
    });
    return new SriovVfs(new Map([['fast', pool]]), { macPrefix: KVM_MAC_PREFIX });
  }

  const settingsFor = (sriov: typeof config): PlanSettings => ({
    macPrefix: parseMacPrefix(KVM_MAC_PREFIX), vifLimit: { default: 7, max: 16 }, vfs,
    networks: new Map([['fast', { bridge: '', vlan: { mode: 'access', tag: 100 }, sriov: { defaults: sriov.defaults, vlan: 100, vfDriver: sriov.vfDriver } }]]),
  });

  function makeEngine(): Engine {
    return new Engine({ settings: settingsFor(config), source, log: quiet, host: { ...noTaps, sriov: vfs } });
  }

  beforeEach(async () => {
    kernel = await FakeSriovKernel.create();
    await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 4 });
    await kernel.addPf({ address: PF2, netdev: 'enp2s0', totalVfs: 7, numVfs: 2 });
    stateDir = await mkdtemp(join(tmpdir(), 'vifd-sriov-kind-'));
    await writeFile(join(stateDir, 'boot_id'), '11111111-2222-3333-4444-555555555555\n');
    vfs = makeVfs();
    await vfs.refresh({});
    source = new Vms();
    engine = makeEngine();
  });
  afterEach(async () => {
    await kernel.remove();
    await rm(stateDir, { recursive: true, force: true });
  });

  const states = () => vfs.views().map((view) => `${view.slot.address} ${view.state.kind}`);

  it('prepare gives each VIF a VF of the PF with the most free, set and read back; status shows PF, index and state', async () => {
    source.add(VM_A, 'web1', 2);
    const verdict = await engine.prepare(source.starting(VM_A));
    assert.deepEqual(verdict.vifs.map((vif) => vif.bridge), ['enp1s0', 'enp1s0']);
    assert.deepEqual(states().slice(0, 2), ['0000:01:10.0 attached', '0000:01:10.2 attached']);
    const rows = engine.status();
    assert.deepEqual(rows.map((row) => [row.state, row.seen?.vf?.pfName, row.seen?.vf?.index, row.seen?.vf?.state]), [['ok', 'enp1s0', 0, 'attached'], ['ok', 'enp1s0', 1, 'attached']]);
    const planned = rows[0]?.desired;
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, planned?.mac);
    assert.equal(kernel.netlink.vf('enp1s0', 0).vlan, 100);
    assert.equal(kernel.netlink.vf('enp1s0', 0).maxTxRate, 500);
    assert.equal(await kernel.boundDriver('0000:01:10.0'), 'vfio-pci');
    assert.deepEqual((await readdir(join(stateDir, 'sriov'))).sort(), ['0000:01:10.0.json', '0000:01:10.2.json']);
  });

  it('a reload: the next full reconcile brings attached VFs to the new settings; a VF the new config excludes stays with its running guest', async () => {
    source.add(VM_A, 'web1', 2, true);
    await engine.prepare(source.starting(VM_A));
    const mac = kernel.netlink.vf('enp1s0', 0).mac;
    const changed = parseSriovConfig({ pfs: ['enp1s0', PF2], max_tx_rate: 200, spoofchk: false, exclude: [0] }, { mode: 'access', tag: 100 }, 'networks.fast');
    // What the daemon's reload does: the pool reconfigured, the planner's settings replaced, then a full reconcile (scan first).
    pool.reconfigure(changed);
    engine.useSettings(settingsFor(changed));
    await vfs.refresh({});
    await engine.reconcileAll('config reload');
    for (const index of [0, 1]) {
      const vf = kernel.netlink.vf('enp1s0', index);
      assert.deepEqual([vf.mac !== '00:00:00:00:00:00', vf.spoofchk, vf.maxTxRate], [true, false, 200], `VF ${index}`);
    }
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, mac, 'the excluded VF in use was repaired, not reset');
    assert.deepEqual(engine.status().map((row) => row.state), ['ok', 'ok']);
    assert.deepEqual(vfs.views().filter((view) => view.retired === true).map((view) => `${view.slot.address} ${view.state.kind}`), ['0000:01:10.0 attached']);
  });

  it('VFs count toward the VIF limit: refused before any VF is claimed', async () => {
    source.add(VM_A, 'big', 8);
    await assert.rejects(engine.prepare(source.starting(VM_A)), LimitExceededError);
    assert.ok(states().every((line) => line.endsWith(' free')));
  });

  it('exhausted: refused naming the network, each PF and its counts; the VFs claimed for it return at the next reconcile', async () => {
    source.add(VM_A, 'web1', 5);
    await engine.prepare(source.starting(VM_A));
    source.add(VM_B, 'db', 2);
    await assert.rejects(engine.prepare(source.starting(VM_B)), (error: unknown) => {
      assert.ok(error instanceof VfPoolExhaustedError);
      assert.equal(error.message.split(': no free VF on ')[1]?.startsWith('enp1s0 (0000:01:00.0) 0 of 4 free, enp2s0 (0000:02:00.0) 0 of 2 free'), true, error.message);
      return true;
    });
    assert.equal(vfs.counters.allocationFailures.get('fast/exhausted'), 1);
    assert.equal(states().filter((line) => line.endsWith(' reserved')).length, 1, 'VM_B\'s first VIF got the last VF');
    await engine.reconcileAll('periodic');
    assert.equal(states().filter((line) => line.endsWith(' free')).length, 1, 'released: VM_B is not running');
    assert.equal(states().filter((line) => line.endsWith(' attached')).length, 5);
  });

  it('checking a definition claims no VF: a stopped VM never holds one', async () => {
    source.add(VM_A, 'web1', 1);
    assert.match(await engine.checkDefinition(VM_A) ?? '', /network fast is an SR-IOV network: its VF is chosen by the running daemon \(vifctl define, or vifctl attach to a running VM\)/);
    source.add(VM_B, 'db', 1, false, { kind: 'sriov-vf', vf: '0000:01:10.2' });
    assert.equal(await engine.checkDefinition(VM_B), null);
    assert.ok(states().every((line) => line.endsWith(' free')));
  });

  it('drift is typed per attribute and repaired one attribute per request', async () => {
    source.add(VM_A, 'web1', 1, true);
    await engine.reconcileDomain(VM_A, 'started');
    kernel.netlink.tamper('enp1s0', 0, { mac: '02:00:00:00:00:99', spoofchk: false });
    await vfs.refresh();
    const [row] = engine.status();
    assert.equal(row?.state, 'drift');
    assert.deepEqual(row.drift.map((drift) => [drift.field, drift.seen]), [['vf.mac', '02:00:00:00:00:99'], ['vf.spoofchk', 'spoofchk off']]);
    kernel.netlink.calls.length = 0;
    assert.equal(await engine.repairDrift(), 1);
    assert.deepEqual(kernel.netlink.calls, ['enp1s0 vf 0 mac', 'enp1s0 vf 0 spoofchk']);
    assert.deepEqual(engine.status().map((each) => each.state), ['ok']);
    assert.deepEqual([...vfs.counters.driftRepairs], [['mac', 1], ['spoofchk', 1]]);
  });

  it('release after the VM stopped restores the VF as it was found, and frees it', async () => {
    kernel.netlink.tamper('enp1s0', 0, { mac: '02:aa:00:00:00:01', trust: true });
    source.add(VM_A, 'web1', 1);
    await engine.prepare(source.starting(VM_A));
    await engine.release(() => Promise.resolve({ uuid: VM_A, name: 'web1' }));
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, '02:aa:00:00:00:01');
    assert.equal(kernel.netlink.vf('enp1s0', 0).trust, true);
    assert.equal(kernel.netlink.vf('enp1s0', 0).vlan, 0);
    assert.equal(await kernel.boundDriver('0000:01:10.0'), 'igbvf');
    assert.ok(states().every((line) => line.endsWith(' free')));
    assert.deepEqual(await readdir(join(stateDir, 'sriov')), []);
    assert.equal(vfs.counters.releaseSeconds.length, 1);
  });

  it('a restore that does not read back quarantines the VF: not allocatable, retried by maintenance', async () => {
    source.add(VM_A, 'web1', 1);
    await engine.prepare(source.starting(VM_A));
    kernel.netlink.injectFault('mac', 'ignore');
    await engine.release(() => Promise.resolve({ uuid: VM_A, name: 'web1' }));
    assert.equal(states()[0], '0000:01:10.0 quarantined');
    source.add(VM_B, 'db', 1);
    await engine.prepare(source.starting(VM_B));
    assert.notEqual(engine.status()[0]?.seen?.vf?.address, '0000:01:10.0');
    await vfs.maintain();
    assert.equal(states()[0], '0000:01:10.0 free');
  });

  it('after a vifd crash: a running guest keeps its VF untouched; nothing is restored before the running guests are known', async () => {
    source.add(VM_A, 'web1', 1, true);
    await engine.reconcileDomain(VM_A, 'started');
    const address = parsePciAddress('0000:01:10.0');
    vfs = makeVfs();
    await vfs.refresh();
    await vfs.maintain();
    assert.equal(kernel.netlink.vf('enp1s0', 0).vlan, 100, 'not restored: the guest may still have it');
    await vfs.refresh({ runningUsers: new Map([[address, { vmUuid: VM_A, vifIndex: 0 }]]) });
    engine = makeEngine();
    kernel.netlink.calls.length = 0;
    await engine.reconcileDomain(VM_A, 'restart');
    assert.deepEqual(kernel.netlink.calls, [], 'nothing to set again');
    assert.deepEqual(engine.status().map((row) => [row.state, row.seen?.vf?.state]), [['ok', 'attached']]);
  });

  it('maintenance resets a free VF carrying vifd\'s MAC with no owner, and leaves other MACs alone', async () => {
    kernel.netlink.tamper('enp1s0', 1, { mac: '52:54:00:12:34:56', vlan: 100 });
    kernel.netlink.tamper('enp1s0', 2, { mac: '02:aa:00:00:00:01' });
    await vfs.refresh({});
    await vfs.maintain();
    assert.equal(kernel.netlink.vf('enp1s0', 1).mac, '00:00:00:00:00:00');
    assert.equal(kernel.netlink.vf('enp1s0', 1).vlan, 0);
    assert.equal(kernel.netlink.vf('enp1s0', 2).mac, '02:aa:00:00:00:01');
  });
});
