// An XAPI host has no libvirtd: vifd as wired with `libvirt.enabled: false`
// (and a URI that would never answer) follows XAPI once the switch is loaded
// (the simulator over its unix socket, real OVS): a started VM's port is
// plugged and removed once the VM is halted; the full reconcile at start and
// GC run on XAPI's records alone, and info says libvirt is not used.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import type { HostConfig } from '../../../src/config/schema.js';
import { callMethod } from '../../../src/api/control-client.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { parseXapiConfig } from '../../../src/xapi/config.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { createTap, deleteLink } from '../../harness/net.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { XapiSimulator } from '../../harness/xapi-sim/simulator.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('integration: the XAPI source without libvirtd (an XAPI host)', function () {
  this.timeout(60_000);
  const lab = new Lab();
  const sim = new XapiSimulator({ firstDomid: randomInt(20_000, 30_000), hosts: [{ name: 'host-a', address: '127.0.0.1' }] });
  let bridge: string;
  let config: HostConfig;
  let daemon: Daemon;
  const startDaemon = async (): Promise<void> => {
    daemon = await Daemon.start(config, quiet);
  };
  const ports = async (): Promise<string[]> => (await run(['ovs-vsctl', '--timeout=10', 'list-ports', bridge])).split('\n').filter((line) => line !== '');

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
    bridge = await lab.bridge();
    sim.hooks = {
      onVifPlug: async (vm, vif) => {
        const name = `vif${vm.domid}.${vif.device}`;
        lab.defer(`TAP ${name}`, () => deleteLink(name));
        await createTap(name);
      },
    };
    const xapiSocket = lab.scratchPath('xapi.sock');
    await sim.listenUnix(xapiSocket);
    lab.defer('XAPI simulator', () => sim.stop());
    config = {
      hypervisor: 'xen', macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 },
      ovsdb: { socket: '/var/run/openvswitch/db.sock' }, libvirt: { uri: `qemu+unix:///system?socket=${lab.scratchPath('no-libvirtd.sock')}`, enabled: false },
      controlSocket: lab.scratchPath('vifd.sock'), stateDir: lab.scratchPath('state'), metrics: { listen: { host: '127.0.0.1', port: 0 } },
      log: { level: 'error' }, networks: new Map(), xapi: parseXapiConfig({ transport: `unix:${xapiSocket}`, host_uuid: sim.host(0).uuid }),
    };
    await startDaemon();
    lab.defer('vifd', () => daemon.stop());
  });
  after(() => lab.cleanup());

  it('plugs a started VM\'s port and removes it once the VM is halted', async () => {
    const network = sim.addNetwork({ name: 'Pool-wide network', bridge });
    const vm = sim.addVm({ name: 'no-libvirt' });
    sim.addVif(vm.ref, network.ref, 0);
    await sim.actions.start(vm.ref, null);
    const port = `vif${Number(sim.record('VM', vm.uuid).domid)}.0`;
    const plugged = async (): Promise<boolean> => (await ports()).includes(port);
    await until('the port', plugged);
    await sim.actions.shutdown(vm.ref, 'hard_shutdown');
    await until('the port to go', async () => !await plugged());
    assert.equal(await plugged(), false);
  });

  it('says libvirt is not used', async () => {
    const info = await callMethod(config.controlSocket, 'info', {});
    assert.equal(info.libvirt.state, 'not used');
  });

  it('reconciles at start and collects garbage on XAPI\'s records alone', async () => {
    const network = sim.addNetwork({ name: 'Restart network', bridge });
    const gone = sim.addVm({ name: 'halted-while-down' });
    const stays = sim.addVm({ name: 'running-throughout' });
    sim.addVif(gone.ref, network.ref, 0);
    sim.addVif(stays.ref, network.ref, 0);
    await sim.actions.start(gone.ref, null);
    await sim.actions.start(stays.ref, null);
    const goneTap = `vif${Number(sim.record('VM', gone.uuid).domid)}.0`;
    const staysTap = `vif${Number(sim.record('VM', stays.uuid).domid)}.0`;
    await until('both ports', async () => { const list = await ports(); return list.includes(goneTap) && list.includes(staysTap); });
    // vifd is down while a VM halts: no event tells it; the first full reconcile must.
    await daemon.stop();
    await sim.actions.shutdown(gone.ref, 'hard_shutdown');
    await startDaemon();
    await until('the halted VM\'s port to go', async () => !(await ports()).includes(goneTap));
    assert.ok((await ports()).includes(staysTap), 'the running VM keeps its port');
    assert.deepEqual((await callMethod(config.controlSocket, 'gc', { dryRun: true })).orphans, []);
  });
});
