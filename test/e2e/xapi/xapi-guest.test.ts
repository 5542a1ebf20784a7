// An XAPI host end to end, minus Xen: the XAPI simulator with its xenopsd
// stand-in (xenopsd's xenstore keys, netback's vifD.N TAPs, the installed vif
// script with xenopsd's argv and environment), the real vifd daemon process
// configured for XAPI without libvirtd, real Open vSwitch with a fake VLAN
// bridge, and a TCG guest on the TAPs the stand-in made (a transient libvirt
// domain stands in for the domU: the host's libvirtd only runs QEMU here).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { DAEMON_SOCKET, DaemonProcess } from '../../harness/daemon.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import type { Guest, Probe } from '../../harness/lab.js';
import { removeDomain } from '../../harness/libvirt.js';
import { uniqueName } from '../../harness/names.js';
import { pingFrom, pingUntilReply } from '../../harness/net.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { vifctlCommand } from '../../harness/programs.js';
import { SimXenStore } from '../../harness/xen/store.js';
import type { Handle } from '../../harness/xapi-sim/simulator.js';
import { XapiSimulator } from '../../harness/xapi-sim/simulator.js';
import { XenopsdStandIn, chooseVifScript } from '../../harness/xapi-sim/xenopsd-stand-in.js';
import { until } from '../../harness/until.js';

const PLAIN_GUEST = { address: '198.51.101.11', cidr: '198.51.101.11/24' };
const VLAN_GUEST = { address: '198.51.100.11', cidr: '198.51.100.11/24' };
const REACH_DEADLINE_MS = 20_000;

const vsctl = async (...args: string[]): Promise<string> => (await run(['ovs-vsctl', '--timeout=10', ...args])).trim();

describe('e2e: an XAPI host (simulator + xenopsd stand-in, vifd without libvirtd, OVS, a TCG guest on vifD.N)', function () {
  this.timeout(240_000);
  const lab = new Lab();
  const sim = new XapiSimulator({ vifDevices: 7, firstDomid: randomInt(20_000, 30_000), hosts: [{ name: 'host-a', address: '127.0.0.1' }] });
  let bridge: string;
  let fakeBridge: string;
  let plain: Handle;
  let vlan: Handle;
  let daemon: DaemonProcess;
  let web: Handle;
  let guest: Guest;
  let vlanProbe: Probe;

  const ports = async (): Promise<string[]> => `${await vsctl('list-ports', bridge)}\n${await vsctl('list-ports', fakeBridge)}`.split('\n').filter((name) => name.startsWith('vif'));
  const domid = (vm: Handle): number => Number(sim.record('VM', vm.uuid).domid);
  const blocked = (vm: Handle): Record<string, string> => sim.record('VM', vm.uuid).blocked_operations as Record<string, string>;
  const macOf = (vm: Handle, index: number): string => sim.store.text('VIF', (sim.record('VM', vm.uuid).VIFs as string[])[index], 'MAC');
  const vifctl = async (...args: string[]): Promise<string> => {
    const [command = '', ...rest] = vifctlCommand();
    const { stdout } = await promisify(execFile)(command, [...rest, ...args, '--config', daemon.configPath], { timeout: 60_000 });
    return stdout;
  };
  const linkExists = (name: string): boolean => existsSync(`/sys/class/net/${name}`);
  const withLimit = (uuid: string, limit: string): void => {
    const vm = sim.handle('VM', uuid);
    sim.store.update('VM', vm.ref, (record) => { record.other_config = { ...record.other_config as Record<string, string>, 'vifd-vif-limit': limit }; });
  };

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping']);
    bridge = await lab.bridge();
    fakeBridge = uniqueName('bridge');
    lab.defer(`fake bridge ${fakeBridge}`, async () => { await vsctl('--if-exists', 'del-br', fakeBridge); });
    await vsctl('add-br', fakeBridge, bridge, '100');
    const store = SimXenStore.create();
    lab.defer('simulated xenstore', () => { store.destroy(); return Promise.resolve(); });
    const script = chooseVifScript();
    lab.defer('vif script copy', () => { script.release(); return Promise.resolve(); });
    const xenopsd = new XenopsdStandIn({ store, script: script.path, env: { VIFD_SOCKET: DAEMON_SOCKET } });
    lab.defer('xenopsd stand-in', () => xenopsd.close());
    sim.hooks = xenopsd;
    plain = sim.addNetwork({ name: 'Pool-wide network', bridge });
    vlan = sim.addVlanNetwork({ name: 'VLAN 100', bridge: fakeBridge, parent: plain.ref, tag: 100 });
    const xapiSocket = lab.scratchPath('xapi.sock');
    await sim.listenUnix(xapiSocket);
    lab.defer('XAPI simulator', () => sim.stop());
    daemon = await DaemonProcess.start(lab, {
      networks: {}, hypervisor: 'xen', libvirt: { enabled: false }, xapi: { transport: `unix:${xapiSocket}`, host_uuid: sim.host(0).uuid },
    });
    await daemon.started();
  });
  after(() => lab.cleanup());

  it('says libvirt is not used', async () => {
    assert.match(await vifctl('info'), /^libvirt: not used/m);
  });

  it('starts a VM with a VIF on a plain and one on a VLAN network; the guest answers on the right VLAN only', async () => {
    web = sim.addVm({ name: 'xapi-web' });
    sim.addVif(web.ref, plain.ref, 0);
    sim.addVif(web.ref, vlan.ref, 1);
    await sim.actions.start(web.ref, null);
    const [first, second] = [`vif${domid(web)}.0`, `vif${domid(web)}.1`];
    assert.deepEqual((await ports()).filter((name) => name.startsWith(`vif${domid(web)}.`)).sort(), [first, second]);
    assert.equal(await vsctl('get', 'Port', second, 'tag'), '100');
    assert.equal(await vsctl('port-to-br', second), fakeBridge);
    assert.equal(await vsctl('get', 'Interface', first, 'external_ids:xs-vm-uuid'), `"${web.uuid}"`);
    const plainProbe = await lab.probe(bridge, '198.51.101.1/24', {});
    vlanProbe = await lab.probe(bridge, '198.51.100.1/24', { tag: 100 });
    guest = await lab.guest([
      { tap: first, mac: macOf(web, 0), cidr: PLAIN_GUEST.cidr },
      { tap: second, mac: macOf(web, 1), cidr: VLAN_GUEST.cidr },
    ]);
    assert.ok(await pingUntilReply(plainProbe.netns, PLAIN_GUEST.address, REACH_DEADLINE_MS), 'the plain network\'s address answers');
    assert.ok(await pingUntilReply(vlanProbe.netns, VLAN_GUEST.address, REACH_DEADLINE_MS), 'the VLAN 100 address answers on VLAN 100');
    const otherVlan = await lab.probe(bridge, '198.51.100.2/24', { tag: 200 });
    assert.equal(await pingFrom(otherVlan.netns, VLAN_GUEST.address, { count: 2 }), false, 'VLAN 200 must not reach the VLAN 100 NIC');
  });

  it('attaches and detaches a VIF through vifctl (VIF.create + VIF.plug through the stand-in, then unplug + destroy)', async () => {
    const output = await vifctl('attach', 'xapi-web', '--network', 'VLAN 100');
    const device = `vif${domid(web)}.2`;
    assert.match(output, new RegExp(device.replace('.', '\\.')));
    assert.ok((await ports()).includes(device), `${device} plugged`);
    assert.ok(linkExists(device), 'netback\'s device exists');
    assert.equal(await vsctl('get', 'Port', device, 'tag'), '100');
    const vifs = sim.record('VM', web.uuid).VIFs as string[];
    assert.equal(vifs.length, 3);
    await vifctl('detach', 'xapi-web', '--index', '2');
    await until('the detached VIF\'s port and device to go', async () => !(await ports()).includes(device) && !linkExists(device));
    assert.equal((sim.record('VM', web.uuid).VIFs as string[]).length, 2);
  });

  it('blocks the start of a VM with 8 VIFs until the override is set', async () => {
    const eight = sim.addVm({ name: 'xapi-eight' });
    for (let n = 0; n < 8; n++) sim.addVif(eight.ref, plain.ref, n);
    const reason = await until('vifd\'s block', () => Promise.resolve(blocked(eight).start));
    assert.match(reason, /^vifd: VM "xapi-eight" has 8 VIFs; the limit is 7/);
    await assert.rejects(sim.actions.start(eight.ref, null), /OPERATION_BLOCKED/);
    withLimit(eight.uuid, '8');
    await until('the block to go', () => Promise.resolve(Object.keys(blocked(eight)).length === 0));
    await sim.actions.start(eight.ref, null);
    const prefix = `vif${domid(eight)}.`;
    assert.equal((await ports()).filter((name) => name.startsWith(prefix)).length, 8);
  });

  it('ends in the right state after EVENTS_LOST and after a simulator restart with new refs', async () => {
    const eightUuid = sim.store.refs('VM').map((ref) => sim.store.text('VM', ref, 'uuid')).find((uuid) => sim.record('VM', uuid).name_label === 'xapi-eight') ?? '';
    const eight = sim.handle('VM', eightUuid);
    const prefix = `vif${domid(eight)}.`;
    sim.loseEvents();
    withLimit(eightUuid, '7');
    await until('the block after EVENTS_LOST', () => Promise.resolve(blocked(eight).start?.includes('has 8 VIFs; the limit is 7')));
    sim.restart();
    const after = sim.handle('VM', eightUuid);
    assert.notEqual(after.ref, eight.ref);
    withLimit(eightUuid, '8');
    await until('the block to go after the restart', () => Promise.resolve(Object.keys(blocked(after)).length === 0));
    await daemon.call('reconcile');
    assert.equal((await ports()).filter((name) => name.startsWith(prefix)).length, 8, 'the running VM kept its 8 ports');
    assert.ok(await pingUntilReply(vlanProbe.netns, VLAN_GUEST.address, REACH_DEADLINE_MS), 'the guest still answers after the restart');
    await sim.actions.shutdown(after.ref, 'clean_shutdown');
    assert.equal((await ports()).some((name) => name.startsWith(prefix)), false);
  });

  it('shutdown leaves nothing: no port, no TAP', async () => {
    const prefix = `vif${domid(web)}.`;
    // The domain goes first, as on Xen: netback's devices outlive no frontend.
    await removeDomain(guest.name);
    await sim.actions.shutdown(sim.handle('VM', web.uuid).ref, 'hard_shutdown');
    await until('the ports to go', async () => !(await ports()).some((name) => name.startsWith(prefix)));
    assert.equal(linkExists(`${prefix}0`) || linkExists(`${prefix}1`), false);
    const status = await daemon.call('status') as { vifs: readonly { uuid: string | null }[] };
    assert.deepEqual(status.vifs.filter((row) => row.uuid === web.uuid), []);
  });
});
