// The daemon as wired (src/daemon/daemon.ts) serving the Xen hook's call on
// its control socket, against the host's real ovsdb-server and ovs-vswitchd
// (libvirt's test:///default driver as the libvirt source beside the Xen one):
// a plug, a full reconcile that keeps the Xen port (the composite source),
// and the port removed once its device is gone (by GC or the drift check).
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { callControl } from '../../../src/api/control-client.js';
import type { HostConfig } from '../../../src/config/schema.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { createTap, deleteLink } from '../../harness/net.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const vsctl = async (...args: string[]): Promise<string> => (await run(['ovs-vsctl', '--timeout=10', ...args])).trim();

describe('integration: vifd serves the Xen hook (xen-hotplug) as wired', function () {
  this.timeout(120_000);
  const lab = new Lab();
  const device = `vif${randomInt(20_000, 32_000)}.0`;
  const vmUuid = randomUUID();
  let bridge: string;
  let socket: string;

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
    bridge = await lab.bridge();
    lab.defer(`TAP ${device}`, () => deleteLink(device));
    await createTap(device);
    socket = lab.scratchPath('vifd.sock');
    const config: HostConfig = {
      hypervisor: 'xen', macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 },
      ovsdb: { socket: '/var/run/openvswitch/db.sock' }, libvirt: { uri: 'test:///default' }, controlSocket: socket,
      stateDir: lab.scratchPath('state'), metrics: { listen: { host: '127.0.0.1', port: 0 } }, log: { level: 'error' }, networks: new Map(),
    };
    const daemon = await Daemon.start(config, quiet);
    lab.defer('vifd', () => daemon.stop());
    lab.defer(`port ${device}`, async () => { await run(['ovs-vsctl', '--timeout=10', '--if-exists', 'del-port', device]); });
  });
  after(() => lab.cleanup());

  it('plugs, keeps the port through a full reconcile, and removes it once the device is gone', async () => {
    const [domid, devid] = device.slice(3).split('.').map(Number);
    const plug = {
      version: 1, toolstack: 'libxl', command: 'online', action: 'plug', device: { name: device, type: 'vif', domid, devid },
      vm: { uuid: vmUuid, name: 'xen guest' }, mac: '00:16:3e:bb:00:01', bridge: { bridge, vlan: 7 },
    };
    assert.deepEqual(await callControl(socket, 'xen-hotplug', plug, { connectTimeoutMs: 5_000 }), { outcome: 'plugged', bridge, vlan: 7 });
    assert.equal(await vsctl('get', 'Port', device, 'tag'), '7');
    await callControl(socket, 'reconcile');
    assert.equal(await vsctl('get', 'Port', device, 'tag'), '7');
    const status = await callControl(socket, 'status') as { vifs: { device: string; kind: string; state: string }[] };
    assert.deepEqual(status.vifs.filter((vif) => vif.device === device).map((vif) => [vif.kind, vif.state]), [['netback', 'ok']]);
    await deleteLink(device);
    // GC removes it, unless the drift check (the switch noticed the device go) already did.
    const gc = await callControl(socket, 'gc') as { orphans: { device: string }[] };
    const deadline = Date.now() + 10_000;
    while ((await vsctl('list-ports', bridge)).split('\n').includes(device) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(!(await vsctl('list-ports', bridge)).split('\n').includes(device), `still plugged; gc answered ${JSON.stringify(gc.orphans)}`);
  });
});
