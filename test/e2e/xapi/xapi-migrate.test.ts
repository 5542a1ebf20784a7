// VM.pool_migrate between two simulated XAPI hosts, each with its own vifd
// (no libvirtd), its own Open vSwitch and its own network namespace (host B
// from second-host.ts), and a xenopsd stand-in per host running the vif
// script there: the destination's domain arrives under a temporary uuid with
// final-uuid naming the VM, its ports carry the final uuid in xs-vm-uuid, and
// the source keeps no port and no device.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { DAEMON_SOCKET, DaemonProcess } from '../../harness/daemon.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { SecondHost } from '../../harness/second-host.js';
import { SimXenStore } from '../../harness/xen/store.js';
import type { Handle } from '../../harness/xapi-sim/simulator.js';
import { XapiSimulator } from '../../harness/xapi-sim/simulator.js';
import { XenopsdPool, XenopsdStandIn, chooseVifScript } from '../../harness/xapi-sim/xenopsd-stand-in.js';
import { until } from '../../harness/until.js';

// Runs the vif script inside host B's namespaces; both come from the environment, so nothing is spliced into the text.
const IN_HOST_B = '#!/bin/sh\nexec nsenter -t "$VIFD_TEST_HOST_PID" -m -n -u -- "$VIFD_TEST_VIF_SCRIPT" "$@"\n';

describe('e2e: XAPI pool_migrate between two hosts, each with its own vifd (simulator, xenopsd stand-ins, OVS)', function () {
  this.timeout(180_000);
  const lab = new Lab();
  const sim = new XapiSimulator({ firstDomid: randomInt(20_000, 30_000), hosts: [{ name: 'host-a', address: '127.0.0.1' }, { name: 'host-b', address: '127.0.0.2' }] });
  let bridge: string;
  let hostB: SecondHost;
  let network: Handle;
  let daemonA: DaemonProcess;
  let daemonB: DaemonProcess;
  let storeB: SimXenStore;

  const lines = (text: string): string[] => text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const portsA = async (): Promise<string[]> => lines(await run(['ovs-vsctl', '--timeout=10', 'list-ports', bridge])).filter((name) => name.startsWith('vif'));
  const portsB = async (): Promise<string[]> => lines(await hostB.exec(['ovs-vsctl', '--timeout=10', 'list-ports', bridge])).filter((name) => name.startsWith('vif'));
  const vmUuidOnB = async (port: string): Promise<string> => (await hostB.exec(['ovs-vsctl', '--timeout=10', 'get', 'Interface', port, 'external_ids:xs-vm-uuid'])).trim().replaceAll('"', '');
  const linkOnA = async (name: string): Promise<boolean> => (await run(['ip', '-o', 'link', 'show'])).includes(` ${name}:`);
  const linkOnB = async (name: string): Promise<boolean> => (await hostB.exec(['ip', '-o', 'link', 'show'])).includes(` ${name}:`);
  const domid = (vm: Handle): number => Number(sim.record('VM', vm.uuid).domid);

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt']);
    bridge = await lab.bridge();
    hostB = await SecondHost.create(lab, bridge);
    // An XAPI network's bridge has one name on every host of the pool.
    await hostB.exec(['ovs-vsctl', '--timeout=30', 'add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev']);
    const script = chooseVifScript();
    lab.defer('vif script copy', () => { script.release(); return Promise.resolve(); });
    const wrapper = lab.scratchPath('vif-vifd-in-host-b');
    writeFileSync(wrapper, IN_HOST_B, { mode: 0o755 });
    const storeA = SimXenStore.create();
    storeB = SimXenStore.create();
    lab.defer('simulated xenstores', () => { storeA.destroy(); storeB.destroy(); return Promise.resolve(); });
    const xenopsdA = new XenopsdStandIn({ store: storeA, script: script.path, env: { VIFD_SOCKET: DAEMON_SOCKET } });
    const xenopsdB = new XenopsdStandIn({
      store: storeB, script: wrapper, env: { VIFD_SOCKET: DAEMON_SOCKET, VIFD_TEST_HOST_PID: String(hostB.pid), VIFD_TEST_VIF_SCRIPT: script.path },
      devices: {
        create: async (name) => { await hostB.exec(['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tap']); },
        remove: async (name) => { await hostB.tryExec(['ip', 'link', 'del', 'dev', name]); },
      },
    });
    lab.defer('xenopsd stand-ins', async () => { await xenopsdB.close(); await xenopsdA.close(); });
    sim.hooks = new XenopsdPool(new Map([[sim.host(0).ref, xenopsdA], [sim.host(1).ref, xenopsdB]]));
    network = sim.addNetwork({ name: 'Pool-wide network', bridge });
    const xapiSocket = lab.scratchPath('xapi.sock');
    await sim.listenUnix(xapiSocket);
    lab.defer('XAPI simulator', () => sim.stop());
    const config = (host: number) => ({
      networks: {}, hypervisor: 'xen' as const, libvirt: { enabled: false }, xapi: { transport: `unix:${xapiSocket}`, host_uuid: sim.host(host).uuid },
    });
    daemonA = await DaemonProcess.start(lab, config(0));
    daemonB = await DaemonProcess.start(lab, config(1), hostB.daemonHost());
    await Promise.all([daemonA.started(), daemonB.started()]);
  });
  after(() => lab.cleanup());

  it('moves the ports to host B with the final uuid in xs-vm-uuid, and leaves nothing on host A', async () => {
    const vm = sim.addVm({ name: 'xapi-mover' });
    sim.addVif(vm.ref, network.ref, 0);
    sim.addVif(vm.ref, network.ref, 1);
    await sim.actions.start(vm.ref, sim.host(0).ref);
    const before = domid(vm);
    assert.deepEqual((await portsA()).filter((name) => name.startsWith(`vif${before}.`)).sort(), [`vif${before}.0`, `vif${before}.1`]);

    await sim.actions.poolMigrate(vm.ref, sim.host(1).ref);
    const after = domid(vm);
    assert.notEqual(after, before);
    assert.deepEqual((await portsB()).sort(), [`vif${after}.0`, `vif${after}.1`]);
    for (const port of [`vif${after}.0`, `vif${after}.1`]) assert.equal(await vmUuidOnB(port), vm.uuid, `${port} carries the final uuid`);
    // The domain arrived under a temporary uuid; B's hook plugged it as that domain, with the final uuid on the port.
    const temporary = (storeB.read(`/local/domain/${after}/vm`) ?? '').replace(/^\/vm\//, '');
    assert.notEqual(temporary, vm.uuid);
    assert.equal(storeB.read(`/vm/${temporary}/final-uuid`), vm.uuid);
    assert.ok(daemonB.log.split('\n').some((line) => line.includes(`plugged vif${after}.0`) && line.includes(temporary)), `B's hook plugged vif${after}.0 for ${temporary}`);
    assert.equal((await portsA()).some((name) => name.startsWith(`vif${before}.`)), false, 'no port left on host A');
    assert.equal(await linkOnA(`vif${before}.0`), false, 'no device left on host A');

    // Each vifd's own reconcile and GC agree: B keeps the ports, A has no orphan.
    await daemonB.call('reconcile');
    await until('B\'s ports to stay after its reconcile', async () => (await portsB()).length === 2);
    assert.deepEqual(((await daemonA.call('gc', { dryRun: true })) as { orphans: unknown[] }).orphans, []);

    await sim.actions.shutdown(vm.ref, 'hard_shutdown');
    await until('B\'s ports to go', async () => (await portsB()).length === 0);
    assert.equal(await linkOnB(`vif${after}.0`), false);
  });
});
