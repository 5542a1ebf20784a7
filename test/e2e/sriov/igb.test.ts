// vifd's real VF code against the real igb PF driver: one TCG guest (Debian's
// generic kernel 6.1, QEMU >= 8 from bookworm-backports with its emulated igb
// NIC, which does SR-IOV) for the whole suite. The guest runs vifd's sysfs,
// rtnetlink and network-pool code from this checkout (agent.ts); every test
// asserts here on what the guest reports, and cross-checks with `ip -json`.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AssignedVf } from '../../../src/host/sriov/network-pool.js';
import type { VfSnapshot } from '../../../src/host/sriov/snapshots.js';
import type { PoolEntry } from '../../../src/model/sriov/allocator.js';
import type { VfState } from '../../../src/model/sriov/release.js';
import type { VfAttribute, VfNetConfig } from '../../../src/model/sriov/vf-settings.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { GuestPf } from '../../harness/sriov-guest/guest-pf.js';
import { prepareIgbGuestImages } from '../../harness/sriov-guest/images.js';
import { GUEST_SNAPSHOT_DIR } from '../../harness/sriov-guest/operations.js';
import { AgentError, IgbGuest } from '../../harness/sriov-guest/vm.js';

const VFS = 4;
const UNTOUCHED = { mac: '00:00:00:00:00:00', vlan: 0, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 0 };

/** Asserts that `promise` fails in the guest with `name` (and errno), returning the report. */
async function refused(promise: Promise<unknown>, name: string, errno?: number): Promise<AgentError['report']> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AgentError, `expected a guest-side error, got ${String(error)}`);
    assert.equal(error.report.name, name, error.message);
    if (errno !== undefined) assert.equal(error.report.errno, errno, error.message);
    return error.report;
  }
  assert.fail(`expected ${name}, the guest succeeded`);
}

describe('e2e: SR-IOV on the real igb PF driver (TCG guest, QEMU igb)', function () {
  this.timeout(120_000);
  let guest: IgbGuest | undefined;
  let pf: GuestPf;

  before(async function () {
    this.timeout(20 * 60_000);
    // root: the images are cached under /var/cache; ping: the guest runs the host's /usr over 9p.
    await requirePrerequisites(this, ['root', 'ping']);
    const images = await prepareIgbGuestImages(this);
    console.log(`      igb guest: QEMU ${images.qemuVersion}, kernel ${images.kernelVersion}, images ready in ${images.seconds.toFixed(1)} s`);
    const booted = Date.now();
    guest = await IgbGuest.boot(images);
    console.log(`      igb guest: agent up after ${((Date.now() - booted) / 1000).toFixed(1)} s (guest uptime ${String(guest.hello?.uptimeSeconds)} s)`);
    pf = await GuestPf.find(guest);
    await pf.bringUp();
  });

  after(async () => {
    await guest?.stop();
  });

  // Enabling VFs resets igb's PF: its carrier, and with it the link speed a VF
  // rate needs (EINVAL without), comes back a moment later. Each case starts
  // with the PF up with carrier, whatever the case before it did.
  beforeEach(async () => {
    await pf.bringUp();
  });

  const call = <T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> => pf.guest.call<T>(op, args);
  const owner = (vifIndex = 0): { vmUuid: string; vifIndex: number } => ({ vmUuid: randomUUID(), vifIndex });
  const vfPath = (address: string, file: string): string => `/sys/bus/pci/devices/${address}/${file}`;

  it('discovers the PF and enables VFs only from 0, as sysfs and rtnetlink show them', async () => {
    const before = await pf.readPf();
    assert.equal(before.driver, 'igb');
    assert.equal(before.numVfs, 0);
    assert.ok(before.totalVfs >= VFS, `sriov_totalvfs ${before.totalVfs}`);
    assert.equal(await call('pfAddress', { netdev: pf.netdev }), pf.address);

    await call('enableVfs', { address: pf.address, count: VFS });
    const enabled = await pf.readPf();
    assert.equal(enabled.numVfs, VFS);
    assert.deepEqual(enabled.vfs.map((vf) => vf.index), [0, 1, 2, 3]);
    for (const vf of enabled.vfs) {
      assert.equal(vf.driver, 'igbvf', `VF ${vf.index} is probed by igbvf (autoprobe)`);
      assert.equal(vf.netdevs.length, 1);
      assert.equal(await call('physfn', { address: vf.address }), pf.address);
      assert.equal(await call('readLink', { path: vfPath(pf.address, `virtfn${vf.index}`) }), `../${vf.address}`);
    }
    const link = await pf.link();
    assert.equal(link.numVfs, VFS);
    assert.deepEqual(link.vfs, [0, 1, 2, 3].map((index) => ({ index, ...UNTOUCHED })));
    assert.deepEqual(await pf.ipVfs(), link.vfs, 'ip -json reads the same VFs');

    // A second enable with the count it has is a no-op; another count is refused before any write
    // (the kernel itself answers EBUSY: the VFs would have to be destroyed first).
    await call('enableVfs', { address: pf.address, count: VFS });
    const report = await refused(call('enableVfs', { address: pf.address, count: 2 }), 'SriovSysfsError');
    assert.match(report.message, /has 4 VFs, 2 wanted: vifd changes sriov_numvfs only from 0/);
    await refused(pf.writeSysfs(vfPath(pf.address, 'sriov_numvfs'), '2'), 'Error').then((raw) => assert.equal(raw.code, 'EBUSY'));
    assert.equal((await pf.readPf()).numVfs, VFS);
  });

  it('sets every attribute igb supports, one request each, read back by vifd and by ip -json', async () => {
    const steps: [VfAttribute, Partial<VfNetConfig>][] = [
      [{ kind: 'mac', mac: '52:54:00:aa:bb:01' }, { mac: '52:54:00:aa:bb:01' }],
      [{ kind: 'vlan', vlan: 100, qos: 3, protocol: '802.1Q' }, { vlan: 100, qos: 3 }],
      [{ kind: 'spoofchk', on: false }, { spoofchk: false }],
      [{ kind: 'trust', on: true }, { trust: true }],
      [{ kind: 'rate', minTxRate: 0, maxTxRate: 100 }, { maxTxRate: 100 }],
    ];
    let expected: VfNetConfig = { index: 1, ...UNTOUCHED } as VfNetConfig;
    for (const [attribute, change] of steps) {
      expected = { ...expected, ...change };
      assert.deepEqual(await pf.setVf(1, attribute), expected, `after ${attribute.kind}`);
    }
    const ip = await pf.ipVfs();
    assert.deepEqual(ip[1], expected, 'ip -json shows what vifd read back');
    assert.deepEqual(ip[0], { index: 0, ...UNTOUCHED }, 'VF 0 untouched');
    // And back to the defaults, each read back.
    for (const attribute of [{ kind: 'mac', mac: UNTOUCHED.mac }, { kind: 'vlan', vlan: 0, qos: 0, protocol: '802.1Q' }, { kind: 'spoofchk', on: true },
      { kind: 'trust', on: false }, { kind: 'rate', minTxRate: 0, maxTxRate: 0 }] as VfAttribute[]) await pf.setVf(1, attribute);
    assert.deepEqual(await pf.vf(1), { index: 1, ...UNTOUCHED });
  });

  it("surfaces the driver's refusals as typed errors naming PF, VF and attribute, and leaves the VF as it was", async () => {
    await pf.setVf(2, { kind: 'mac', mac: '52:54:00:aa:bb:02' });
    const before = await pf.vf(2);
    const cases: [VfAttribute | { vf: number; attribute: VfAttribute }, number, boolean, RegExp][] = [
      [{ kind: 'link-state', state: 'enable' }, 95, true, /^PF eth\d+ VF 2 link-state: setting state enable failed: EOPNOTSUPP/],
      [{ kind: 'link-state', state: 'auto' }, 95, true, /VF 2 link-state: .*EOPNOTSUPP/],
      [{ kind: 'vlan', vlan: 300, qos: 0, protocol: '802.1ad' }, 93, true, /VF 2 vlan: setting vlan 300 qos 0 proto 802.1ad failed: EPROTONOSUPPORT/],
      [{ kind: 'rate', minTxRate: 10, maxTxRate: 100 }, 22, false, /VF 2 rate: .*EINVAL/],
      [{ vf: VFS + 2, attribute: { kind: 'mac', mac: '52:54:00:aa:bb:09' } }, 22, false, /VF 6 mac: .*EINVAL/],
    ];
    for (const [what, errno, unsupported, message] of cases) {
      const { vf, attribute } = 'kind' in what ? { vf: 2, attribute: what } : what;
      const report = await refused(pf.setVf(vf, attribute), 'VfNetlinkError', errno);
      assert.equal(report.code, 'sriov-netlink');
      assert.equal(report.isUnsupported, unsupported, report.message);
      assert.match(report.message, message);
      assert.deepEqual(report.location, { pf: pf.netdev, vf, attribute: attribute.kind });
    }
    assert.deepEqual(await pf.vf(2), before, 'nothing of the refused requests was applied');
    await pf.setVf(2, { kind: 'mac', mac: UNTOUCHED.mac });
  });

  it('re-creating the VFs (sriov_numvfs 4 -> 0 -> 4) wipes every VF setting', async () => {
    await pf.setVf(0, { kind: 'mac', mac: '52:54:00:aa:bb:00' });
    await pf.setVf(0, { kind: 'vlan', vlan: 42, qos: 0, protocol: '802.1Q' });
    await pf.setVf(0, { kind: 'trust', on: true });
    await pf.writeSysfs(vfPath(pf.address, 'sriov_numvfs'), '0');
    const none = await pf.readPf();
    assert.deepEqual([none.numVfs, none.vfs], [0, []]);
    assert.deepEqual((await pf.link()).vfs, []);
    // From 0, vifd checks the count against sriov_totalvfs before writing.
    const tooMany = await refused(call('enableVfs', { address: pf.address, count: none.totalVfs + 1 }), 'SriovSysfsError');
    assert.match(tooMany.message, /the device has at most \d+ \(sriov_totalvfs\)/);
    await call('enableVfs', { address: pf.address, count: VFS });
    assert.deepEqual(await pf.vf(0), { index: 0, ...UNTOUCHED }, 'the new VF 0 has none of the old settings');
    assert.deepEqual((await pf.ipVfs())[0], { index: 0, ...UNTOUCHED });
  });

  it('assigns a VF to vfio-pci through the network pool (snapshot first) and releases it to igbvf with its old settings', async () => {
    const vf3 = await pf.vfDevice(3);
    await pf.setVf(3, { kind: 'mac', mac: '02:00:00:00:00:33' });
    await pf.setVf(3, { kind: 'trust', on: true });
    const original = await pf.vf(3);
    await call('openPool', { network: 'fast', sriov: { pfs: [pf.netdev], max_tx_rate: 200 }, vlan: { mode: 'access', tag: 100 } });
    assert.deepEqual(await call('scan', { network: 'fast' }), { vanished: [], unreadable: [] });
    const entries = await call<PoolEntry[]>('poolEntries', { network: 'fast' });
    assert.deepEqual(entries.map((entry) => entry.state.kind), ['free', 'free', 'free', 'free']);

    const vif = owner();
    const mac = '52:54:00:9b:d9:10';
    const assigned = await call<AssignedVf>('assign', { network: 'fast', owner: vif, mac, previous: vf3.address });
    assert.equal(assigned.slot.address, vf3.address, 'sticky: the VIF asked for its previous VF');
    assert.deepEqual(assigned.skipped, [{ kind: 'link-state', state: 'auto' }], 'igb has no link-state op; auto is its default');
    await call('markAttached', { network: 'fast', owner: vif });
    const bound = await pf.vfDevice(3);
    assert.deepEqual([bound.driver, bound.driverOverride, bound.netdevs], ['vfio-pci', 'vfio-pci', []]);
    const group = (await call<string>('readLink', { path: vfPath(vf3.address, 'iommu_group') })).split('/').pop();
    assert.ok((await call<string[]>('listDir', { path: '/dev/vfio' })).includes(group ?? '?'), `/dev/vfio/${String(group)} exists`);
    const applied = { index: 3, mac, vlan: 100, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 200 };
    assert.deepEqual(await pf.vf(3), applied);
    assert.deepEqual((await pf.ipVfs())[3], applied);
    const snapshot = JSON.parse(await call<string>('readFile', { path: `${GUEST_SNAPSHOT_DIR}/fast/${vf3.address}.json` })) as VfSnapshot;
    assert.deepEqual([snapshot.owner, snapshot.original, snapshot.driver, snapshot.pfName], [vif, original, 'igbvf', pf.netdev]);

    assert.deepEqual(await call<VfState>('release', { network: 'fast', owner: vif, proof: 'vm-stopped' }), { kind: 'free' });
    assert.deepEqual(await pf.vf(3), original, 'MAC, trust, VLAN and rate back as they were');
    const restored = await pf.vfDevice(3);
    assert.deepEqual([restored.driver, restored.driverOverride, restored.netdevs.length], ['igbvf', undefined, 1]);
    assert.deepEqual(await call('listDir', { path: `${GUEST_SNAPSHOT_DIR}/fast` }), [], 'the snapshot is removed after a clean restore');
    await pf.setVf(3, { kind: 'trust', on: false });
    await pf.setVf(3, { kind: 'mac', mac: UNTOUCHED.mac });
  });

  it('a default the driver refuses (link_state enable) rolls the VF back and leaves it free', async () => {
    const before = await pf.vf(0);
    await call('openPool', { network: 'strict', sriov: { pfs: [pf.address], link_state: 'enable' }, vlan: { mode: 'none' } });
    await call('scan', { network: 'strict' });
    const vif = owner();
    const report = await refused(call('assign', { network: 'strict', owner: vif, mac: '52:54:00:9b:d9:11', previous: (await pf.vfDevice(0)).address }), 'VfNetlinkError', 95);
    assert.match(report.message, /VF 0 link-state: setting state enable failed: EOPNOTSUPP/);
    const entries = await call<PoolEntry[]>('poolEntries', { network: 'strict' });
    assert.deepEqual(entries.map((entry) => entry.state.kind), ['free', 'free', 'free', 'free']);
    assert.deepEqual(await pf.vf(0), before, 'the MAC set before the refusal was rolled back');
    assert.equal((await pf.vfDevice(0)).driver, 'igbvf', 'and the VF is back on its driver');
  });
  it('isolates VLANs through VFs: the VLAN vifd sets is enforced by the NIC (VST), the admin MAC reaches the VF driver', async function () {
    this.timeout(240_000);
    const vifA = owner();
    const vifB = owner();
    const macA = '52:54:00:9b:0a:01';
    const macB = '52:54:00:9b:0b:01';
    // Two networks on one PF, each keeping the other's VF out; igbvf in the guest stands in for the VM's driver.
    await call('openPool', { network: 'v100', sriov: { pfs: [pf.netdev], exclude: [1, 2, 3], vf_driver: 'igbvf' }, vlan: { mode: 'access', tag: 100 } });
    await call('openPool', { network: 'v200', sriov: { pfs: [pf.netdev], exclude: [0, 2, 3], vf_driver: 'igbvf' }, vlan: { mode: 'access', tag: 200 } });
    const namespaces = ['vfa', 'vfb', 'p100', 'p200'];
    try {
      const netdevs: string[] = [];
      for (const [network, vif, mac] of [['v100', vifA, macA], ['v200', vifB, macB]] as const) {
        await call('scan', { network });
        const assigned = await call<AssignedVf>('assign', { network, owner: vif, mac });
        await call('markAttached', { network, owner: vif });
        // The VF driver reads the admin MAC when it probes (as a VM's driver does at its start): re-probe.
        const address = assigned.slot.address;
        await pf.writeSysfs(vfPath(address, 'driver/unbind'), address);
        await pf.writeSysfs('/sys/bus/pci/drivers_probe', address);
        const [netdev] = (await pf.vfDevice(assigned.slot.index)).netdevs;
        assert.equal((await call<string>('readFile', { path: `/sys/class/net/${String(netdev)}/address` })).trim(), mac);
        netdevs.push(netdev ?? '');
      }
      for (const name of namespaces) await pf.ok(['ip', 'netns', 'add', name]);
      const place = async (netns: string, netdev: string, cidr: string): Promise<void> => {
        await pf.ok(['ip', 'link', 'set', 'dev', netdev, 'netns', netns]);
        await pf.ok(['ip', '-n', netns, 'addr', 'add', cidr, 'dev', netdev]);
        await pf.ok(['ip', '-n', netns, 'link', 'set', 'dev', netdev, 'up']);
      };
      await place('vfa', netdevs[0] ?? '', '10.9.0.2/24');
      await place('vfb', netdevs[1] ?? '', '10.9.0.3/24');
      for (const tag of [100, 200]) {
        await pf.ok(['ip', 'link', 'add', 'link', pf.netdev, 'name', `${pf.netdev}.${tag}`, 'type', 'vlan', 'id', String(tag)]);
        await place(`p${tag}`, `${pf.netdev}.${tag}`, '10.9.0.1/24');
      }
      const ping = async (from: string, to: string, count: number): Promise<boolean> =>
        (await pf.run(['ip', 'netns', 'exec', from, 'ping', '-n', '-q', '-c', String(count), '-W', '2', to], 60_000)).code === 0;
      // Positive controls first (they also wait for the links): each VLAN reaches its own VF.
      assert.ok(await ping('p100', '10.9.0.2', 5), 'PF VLAN 100 reaches the VLAN 100 VF');
      assert.ok(await ping('p200', '10.9.0.3', 5), 'PF VLAN 200 reaches the VLAN 200 VF');
      assert.equal(await ping('p200', '10.9.0.2', 2), false, 'PF VLAN 200 must not reach the VLAN 100 VF');
      assert.equal(await ping('p100', '10.9.0.3', 2), false, 'PF VLAN 100 must not reach the VLAN 200 VF');
      assert.equal(await ping('vfa', '10.9.0.3', 2), false, 'the two VFs are on different VLANs');
      // trust off (the default): the guest may not change the MAC vifd gave its VF.
      assert.notEqual((await pf.run(['ip', '-n', 'vfa', 'link', 'set', 'dev', netdevs[0] ?? '', 'address', '52:54:00:ff:ff:01'])).code, 0);
    } finally {
      for (const name of namespaces) await pf.run(['ip', 'netns', 'del', name]);
      await call('release', { network: 'v100', owner: vifA, proof: 'vm-stopped' }).catch(() => undefined);
      await call('release', { network: 'v200', owner: vifB, proof: 'vm-stopped' }).catch(() => undefined);
    }
    assert.deepEqual([(await pf.vf(0)).vlan, (await pf.vf(1)).vlan, (await pf.vf(0)).mac], [0, 0, UNTOUCHED.mac], 'released: VLANs and MACs restored');
  });
});
