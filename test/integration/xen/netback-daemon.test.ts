// The daemon's xen-hotplug method against real ovsdb-server and ovs-vswitchd:
// TAPs named as netback names its devices stand in for a Xen domain's vifD.N;
// the handler plugs them with tag, trunks, MTU and the external_ids Xen's and
// XAPI's tools read (as ovs-vsctl shows them), a repeated call changes nothing,
// an unplug removes the port, the 8th VIF is refused, and an XAPI VLAN
// network's fake bridge is resolved to its parent and tag.
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { callControl } from '../../../src/api/control-client.js';
import { ControlServer } from '../../../src/api/control-server.js';
import { controlHandlers } from '../../../src/daemon/handlers.js';
import { hostEffectors } from '../../../src/daemon/host-effectors.js';
import { Engine } from '../../../src/engine/engine.js';
import { NetDevices } from '../../../src/host/net-devices.js';
import { OvsdbClient } from '../../../src/host/ovsdb/client.js';
import { resolveFakeBridge } from '../../../src/host/ovsdb/fake-bridges.js';
import { PORT_MONITOR } from '../../../src/host/ovsdb/ports.js';
import { PortWriter } from '../../../src/host/ovsdb/port-writer.js';
import { TapDevices } from '../../../src/host/tap.js';
import { recoverNetbackVifs } from '../../../src/kinds/netback/recover.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { CompositeSource } from '../../../src/sources/composite.js';
import { XenHotplug } from '../../../src/sources/xen-hotplug/daemon-side.js';
import { XenVms } from '../../../src/sources/xen-hotplug/vms.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { createTap, deleteLink } from '../../harness/net.js';
import { uniqueName } from '../../harness/names.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const vsctl = async (...args: string[]): Promise<string> => (await run(['ovs-vsctl', '--timeout=10', ...args])).trim();

describe('integration: the xen-hotplug method against real OVS', function () {
  this.timeout(120_000);
  const lab = new Lab();
  const taps = new TapDevices();
  // A domid no real host here uses, so the TAPs carry netback's names without clashing with another run.
  const domid = randomInt(20_000, 32_000);
  const vmUuid = randomUUID();
  const vifUuid = randomUUID();
  const networkUuid = randomUUID();
  let bridge: string;
  let fakeBridge: string;
  let client: OvsdbClient;
  let call: (params: unknown) => Promise<unknown>;

  const request = (devid: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    version: 1, toolstack: 'xenopsd', command: 'online', action: 'plug',
    device: { name: `vif${domid}.${devid}`, type: 'vif', domid, devid },
    vm: { uuid: vmUuid, name: 'xen guest' }, mac: `00:16:3e:aa:00:0${devid}`, bridge: { bridge }, ...extra,
  });

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
    bridge = await lab.bridge();
    fakeBridge = uniqueName('bridge');
    lab.defer(`fake bridge ${fakeBridge}`, async () => { await run(['ovs-vsctl', '--timeout=10', '--if-exists', 'del-br', fakeBridge]); });
    await vsctl('add-br', fakeBridge, bridge, '100');
    for (let devid = 0; devid < 8; devid++) {
      const name = `vif${domid}.${devid}`;
      lab.defer(`TAP ${name}`, () => deleteLink(name));
      await createTap(name);
    }
    client = new OvsdbClient({ monitor: PORT_MONITOR });
    await client.start();
    lab.defer('OVSDB client', () => { client.close(); taps.close(); return Promise.resolve(); });
    const devices = new NetDevices();
    const vms = new XenVms({ exists: (name) => devices.exists(name), recover: () => recoverNetbackVifs(client.ownedPorts.all()) });
    const engine = new Engine({
      settings: { macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 }, networks: new Map() },
      source: new CompositeSource(vms), log: quiet, host: hostEffectors(taps, new PortWriter(client), client, devices),
    });
    const xen = new XenHotplug(engine, vms, (name) => resolveFakeBridge(client.replica, name), quiet);
    // Over a control socket, as the Xen hook asks the daemon.
    const server = await ControlServer.listen(lab.scratchPath('vifd.sock'), controlHandlers(engine, quiet, undefined, undefined, undefined, xen));
    lab.defer('control socket', () => server.close());
    call = (params) => callControl(server.path, 'xen-hotplug', params as Record<string, unknown>);
    lab.defer('the VM\'s ports', async () => { await engine.release(() => Promise.resolve({ uuid: vmUuid, name: 'xen guest' })); });
  });
  after(() => lab.cleanup());

  it('plugs with trunks, MTU and the Xen and XAPI external_ids; called twice, changes nothing', async () => {
    const params = request(0, { bridge: { bridge, trunks: [200, 300] }, mtu: 1400, xapi: { vifUuid, networkUuid } });
    assert.deepEqual(await call(params), { outcome: 'plugged', bridge });
    const device = `vif${domid}.0`;
    assert.ok((await vsctl('list-ports', bridge)).split('\n').includes(device));
    assert.equal(await vsctl('get', 'Port', device, 'trunks'), '[200, 300]');
    assert.equal(await vsctl('get', 'Interface', device, 'mtu_request'), '1400');
    const ids = await vsctl('get', 'Interface', device, 'external_ids');
    for (const pair of [`xen-vm-uuid="${vmUuid}"`, 'xen-vm-name="xen guest"', `xs-vm-uuid="${vmUuid}"`, `xs-vif-uuid="${vifUuid}"`,
      `xs-network-uuid="${networkUuid}"`, `iface-id="${vifUuid}"`, 'attached-mac="00:16:3e:aa:00:00"', '"vifd:kind"=netback']) {
      assert.ok(ids.includes(pair), `${pair} in ${ids}`);
    }
    assert.deepEqual(await call(params), { outcome: 'unchanged', bridge });
  });

  it('plugs an access VLAN (BRIDGE.VLAN) and unplugs it; unplugged again, nothing changes', async () => {
    assert.deepEqual(await call(request(1, { bridge: { bridge, vlan: 42 } })), { outcome: 'plugged', bridge, vlan: 42 });
    assert.equal(await vsctl('get', 'Port', `vif${domid}.1`, 'tag'), '42');
    const unplug = { version: 1, toolstack: 'xenopsd', command: 'remove', action: 'unplug', device: { name: `vif${domid}.1`, type: 'vif', domid, devid: 1 }, vm: { uuid: vmUuid } };
    assert.deepEqual(await call(unplug), { outcome: 'unplugged' });
    assert.ok(!(await vsctl('list-ports', bridge)).split('\n').includes(`vif${domid}.1`));
    assert.deepEqual(await call(unplug), { outcome: 'unchanged' });
  });

  it('resolves an XAPI VLAN network\'s fake bridge to its parent and tag', async () => {
    assert.deepEqual(resolveFakeBridge(client.replica, fakeBridge), { name: fakeBridge, parent: bridge, tag: 100 });
    assert.equal(resolveFakeBridge(client.replica, bridge), null);
    assert.deepEqual(await call(request(1, { bridge: { bridge: fakeBridge } })), { outcome: 'plugged', bridge, vlan: 100 });
    assert.equal(await vsctl('get', 'Port', `vif${domid}.1`, 'tag'), '100');
    // ovs-vsctl sees it where XAPI's tools look for it: on the fake bridge.
    assert.equal(await vsctl('port-to-br', `vif${domid}.1`), fakeBridge);
  });

  it('refuses the 8th VIF naming the VM and the device, and leaves the 7 plugged', async () => {
    for (let devid = 2; devid < 7; devid++) await call(request(devid));
    await assert.rejects(call(request(7)), (error: unknown) => error instanceof Error && error.message.startsWith(`VM "xen guest" VIF 7: device vif${domid}.7: asks for 8 VIFs; the limit is 7`));
    // ovs-vsctl lists the port on the fake bridge (tag 100) under the fake bridge, not its parent.
    const listed = `${await vsctl('list-ports', bridge)}\n${await vsctl('list-ports', fakeBridge)}`;
    const ports = listed.split('\n').filter((port) => port.startsWith(`vif${domid}.`));
    assert.equal(ports.length, 7);
    assert.ok(!ports.includes(`vif${domid}.7`));
  });
});
