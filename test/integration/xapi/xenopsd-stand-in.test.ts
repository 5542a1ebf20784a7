// The simulator's xenopsd stand-in with vifd as wired for an XAPI host (no
// libvirtd), real OVS and the vif script (the installed one, or a rendered
// copy outside CI): VM.start writes xenopsd's keys, creates vifD.N and runs
// the script, and publishes Running only once the hotplug key is there; a plug
// the hook refuses fails VM.start with XAPI's error and leaves nothing; a
// shutdown runs `remove` and leaves no TAP, no port, no key.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import type { HostConfig } from '../../../src/config/schema.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { parseXapiConfig } from '../../../src/xapi/config.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { SimXenStore } from '../../harness/xen/store.js';
import type { ScriptRun } from '../../harness/xen/toolstack.js';
import { XapiFailure } from '../../harness/xapi-sim/failure.js';
import { XapiSimulator } from '../../harness/xapi-sim/simulator.js';
import { XenopsdStandIn, chooseVifScript } from '../../harness/xapi-sim/xenopsd-stand-in.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

describe('integration: the xenopsd stand-in runs the vif script against vifd (simulator, real OVS)', function () {
  this.timeout(90_000);
  const lab = new Lab();
  const sim = new XapiSimulator({ firstDomid: randomInt(20_000, 30_000), hosts: [{ name: 'host-a', address: '127.0.0.1' }] });
  const runs: ScriptRun[] = [];
  let store: SimXenStore;
  let xenopsd: XenopsdStandIn;
  let bridge: string;

  const ports = async (): Promise<string[]> => (await run(['ovs-vsctl', '--timeout=10', 'list-ports', bridge])).split('\n').filter((line) => line !== '');
  const tapExists = (name: string): boolean => existsSync(`/sys/class/net/${name}`);

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
    bridge = await lab.bridge();
    store = SimXenStore.create();
    lab.defer('simulated xenstore', () => { store.destroy(); return Promise.resolve(); });
    const script = chooseVifScript();
    lab.defer('vif script copy', () => { script.release(); return Promise.resolve(); });
    const controlSocket = lab.scratchPath('vifd.sock');
    xenopsd = new XenopsdStandIn({ store, script: script.path, env: { VIFD_SOCKET: controlSocket }, onRun: (done) => runs.push(done) });
    lab.defer('xenopsd stand-in', () => xenopsd.close());
    sim.hooks = xenopsd;
    const xapiSocket = lab.scratchPath('xapi.sock');
    await sim.listenUnix(xapiSocket);
    lab.defer('XAPI simulator', () => sim.stop());
    const config: HostConfig = {
      hypervisor: 'xen', macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 },
      ovsdb: { socket: '/var/run/openvswitch/db.sock' }, libvirt: { uri: 'qemu:///system', enabled: false },
      controlSocket, stateDir: lab.scratchPath('state'), metrics: { listen: { host: '127.0.0.1', port: 0 } },
      log: { level: 'error' }, networks: new Map(), xapi: parseXapiConfig({ transport: `unix:${xapiSocket}`, host_uuid: sim.host(0).uuid }),
    };
    const daemon = await Daemon.start(config, quiet);
    lab.defer('vifd', () => daemon.stop());
  });
  after(() => lab.cleanup());

  it('starts a VM through the script: keys, TAP, port, and Running only after the hotplug key', async () => {
    const network = sim.addNetwork({ name: 'Pool-wide network', bridge });
    const vm = sim.addVm({ name: 'xenopsd-web' });
    const vif = sim.addVif(vm.ref, network.ref, 0);
    runs.length = 0;
    await sim.actions.start(vm.ref, null);
    const domid = Number(sim.record('VM', vm.uuid).domid);
    assert.equal(sim.record('VM', vm.uuid).power_state, 'Running');
    assert.equal(sim.record('VIF', vif.uuid).currently_attached, true);
    assert.deepEqual(runs.map((done) => [done.argv.join(' '), done.env.INTERFACE, done.code]), [['add', `vif${domid}.0`, 0], ['online', `vif${domid}.0`, 0]]);
    assert.equal(store.read(`/xapi/${vm.uuid}/hotplug/${domid}/vif/0/hotplug`), 'online');
    assert.equal(store.read(`/xapi/${vm.uuid}/private/vif/0/bridge`), bridge);
    assert.equal(store.read(`/local/domain/0/backend/vif/${domid}/0/hotplug-status`), 'connected');
    assert.ok(tapExists(`vif${domid}.0`));
    assert.ok((await ports()).includes(`vif${domid}.0`));
    const ids = await run(['ovs-vsctl', '--timeout=10', 'get', 'Interface', `vif${domid}.0`, 'external_ids:xs-vm-uuid']);
    assert.equal(ids.trim().replaceAll('"', ''), vm.uuid);

    runs.length = 0;
    await sim.actions.shutdown(vm.ref, 'hard_shutdown');
    assert.deepEqual(runs.map((done) => [done.argv.join(' '), done.code]), [['remove', 0]]);
    assert.equal(tapExists(`vif${domid}.0`), false);
    assert.equal((await ports()).includes(`vif${domid}.0`), false);
    assert.deepEqual(store.dump(`/xapi/${vm.uuid}`), {});
    assert.deepEqual(xenopsd.domids(), []);
  });

  it('fails VM.start with XAPI\'s error when the hook refuses a plug, and leaves nothing', async () => {
    // A bridge OVS does not have: vifd refuses, the script writes hotplug-error.
    const missing = sim.addNetwork({ name: 'No such bridge', bridge: 'vifdnobr0' });
    const vm = sim.addVm({ name: 'xenopsd-refused' });
    sim.addVif(vm.ref, missing.ref, 0);
    let domid = -1;
    await assert.rejects(sim.actions.start(vm.ref, null), (error: unknown) => {
      assert.ok(error instanceof XapiFailure, String(error));
      assert.equal(error.code, 'INTERNAL_ERROR');
      const match = /hotplug of vif(\d+)\.0 failed: .+/.exec(error.params[0] ?? '');
      assert.ok(match, error.message);
      domid = Number(match[1]);
      return true;
    });
    assert.equal(sim.record('VM', vm.uuid).power_state, 'Halted');
    assert.equal(tapExists(`vif${domid}.0`), false);
    assert.deepEqual(store.dump(`/local/domain/${domid}`), {});
  });
});
