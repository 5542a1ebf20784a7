// The daemon's side of Xen hotplug through the real engine over in-memory
// host effectors: a plug per call planned with the VM's other Xen VIFs, the
// VIF limit counting them, idempotent repeats, unplug, fake bridges, GC of a
// port whose device is gone, and a restart that rebuilds the Xen VMs from
// the switch instead of unplugging them.
import assert from 'node:assert/strict';
import { vifStatus } from '../../../../src/daemon/status-view.js';
import { Engine } from '../../../../src/engine/engine.js';
import { ownedPortAsWritten } from '../../../../src/host/ovsdb/port-columns.js';
import { recoverNetbackVifs } from '../../../../src/kinds/netback/recover.js';
import { InvalidInputError, LimitExceededError } from '../../../../src/model/errors.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../../src/model/mac.js';
import type { PlanSettings } from '../../../../src/model/plan.js';
import { CompositeSource } from '../../../../src/sources/composite.js';
import { XenHotplug } from '../../../../src/sources/xen-hotplug/daemon-side.js';
import type { FakeBridgeLookup } from '../../../../src/sources/xen-hotplug/daemon-side.js';
import { parseXenHotplugRequest } from '../../../../src/sources/xen-hotplug/protocol.js';
import type { XenHotplugRequest } from '../../../../src/sources/xen-hotplug/protocol.js';
import { XenVms } from '../../../../src/sources/xen-hotplug/vms.js';
import { FakeHost, quietLog } from '../../engine/fakes.js';
import { MemorySource } from '../../engine/memory/memory-source.js';

const VM = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const OTHER = '9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11';
const settings: PlanSettings = { macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 }, networks: new Map() };

function plug(devid: number, options: { bridge?: string; vlan?: number; trunks?: number[]; type?: 'vif' | 'tap'; uuid?: string; domid?: number } = {}): XenHotplugRequest {
  const domid = options.domid ?? 7;
  const type = options.type ?? 'vif';
  return parseXenHotplugRequest({
    version: 1, toolstack: 'libxl', command: 'online', action: 'plug',
    device: { name: `${type}${domid}.${devid}`, type, domid, devid },
    vm: { uuid: options.uuid ?? VM, name: 'guest' }, mac: `00:16:3e:00:${String(domid).padStart(2, '0')}:${String(devid).padStart(2, '0')}`, mtu: 1500,
    bridge: { bridge: options.bridge ?? 'xenbr0', ...(options.vlan === undefined ? {} : { vlan: options.vlan }), ...(options.trunks === undefined ? {} : { trunks: options.trunks }) },
  });
}

const unplug = (devid: number, withVm = true): XenHotplugRequest => parseXenHotplugRequest({
  version: 1, toolstack: 'libxl', command: 'offline', action: 'unplug', device: { name: `vif7.${devid}`, type: 'vif', domid: 7, devid },
  ...(withVm ? { vm: { uuid: VM } } : {}),
});

describe('sources/xen-hotplug: the daemon side', () => {
  let host: FakeHost;
  let engine: Engine;
  let vms: XenVms;
  let xen: XenHotplug;
  const fakeBridges: FakeBridgeLookup = (name) => (name === 'xapi1' ? { parent: 'xenbr0', tag: 100 } : null);

  function start(): void {
    vms = new XenVms({ exists: (name) => host.netDevices.has(name), recover: () => recoverNetbackVifs([...host.portsByName.values()]) });
    engine = new Engine({ settings, source: new CompositeSource(vms, new MemorySource()), host, log: quietLog });
    xen = new XenHotplug(engine, vms, fakeBridges, quietLog);
  }

  beforeEach(() => {
    host = new FakeHost();
    for (let devid = 0; devid < 9; devid++) host.netDevices.add(`vif7.${devid}`);
    start();
  });

  it('plugs one device per call with its VLAN and MTU; the same call again changes nothing', async () => {
    assert.deepEqual(await xen.handle(plug(0, { vlan: 100 })), { outcome: 'plugged', bridge: 'xenbr0', vlan: 100 });
    const port = host.portsByName.get('vif7.0');
    assert.equal(port?.tag, 100);
    assert.equal(port.mtuRequest, 1500);
    assert.equal(port.externalIds['xen-vm-uuid'], VM);
    assert.equal(port.externalIds['attached-mac'], '00:16:3e:00:07:00');
    assert.deepEqual(await xen.handle(plug(0, { vlan: 100 })), { outcome: 'unchanged', bridge: 'xenbr0', vlan: 100 });
    await xen.handle(plug(1, { trunks: [200, 300] }));
    assert.deepEqual([host.portsByName.get('vif7.1')?.trunks, host.portsByName.get('vif7.1')?.vlanMode], [[200, 300], 'trunk']);
    assert.ok(host.portsByName.has('vif7.0'), 'a second device leaves the first as it is');
    assert.deepEqual(engine.status().map((vif) => [vif.device, vif.state]), [['vif7.0', 'ok'], ['vif7.1', 'ok']]);
    const rows = engine.status().map((report) => vifStatus(report));
    assert.deepEqual(rows.map((row) => [row.kind, row.network, row.vlan]), [['netback', 'xenbr0.100', 'access 100'], ['netback', 'xenbr0:200:300', 'trunk 200,300']]);
  });

  it('refuses the 8th VIF with one line naming the VM and the device, and plugs nothing of it', async () => {
    for (let devid = 0; devid < 7; devid++) await xen.handle(plug(devid));
    await assert.rejects(xen.handle(plug(7)), (error: unknown) => {
      assert.ok(error instanceof LimitExceededError);
      assert.match(error.message, /^VM "guest" VIF 7: device vif7\.7: asks for 8 VIFs; the limit is 7/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
    assert.equal(host.portsByName.size, 7);
    assert.ok(!host.portsByName.has('vif7.7'));
  });

  it('counts a device and its emulated twin (vif7.0, tap7.0) as one VIF', async () => {
    for (let devid = 0; devid < 7; devid++) await xen.handle(plug(devid));
    await xen.handle(plug(0, { type: 'tap' }));
    assert.ok(host.portsByName.has('tap7.0'));
  });

  it('unplugs one device; again, nothing; an unplug that no longer knows its VM finds it by device', async () => {
    await xen.handle(plug(0));
    await xen.handle(plug(1));
    assert.deepEqual(await xen.handle(unplug(0)), { outcome: 'unplugged' });
    assert.deepEqual([...host.portsByName.keys()], ['vif7.1']);
    assert.deepEqual(await xen.handle(unplug(0)), { outcome: 'unchanged' });
    assert.deepEqual(await xen.handle(unplug(1, false)), { outcome: 'unplugged' });
    assert.equal(host.portsByName.size, 0);
  });

  it('a device that is gone is no VIF: not counted, not plugged again by the next plug', async () => {
    for (let devid = 0; devid < 7; devid++) await xen.handle(plug(devid));
    host.netDevices.delete('vif7.0');
    host.portsByName.delete('vif7.0');
    await xen.handle(plug(7));
    assert.ok(host.portsByName.has('vif7.7'));
    assert.ok(!host.portsByName.has('vif7.0'), 'the gone device\'s port is not written again');
  });

  it('an unplug naming another uuid (after an XAPI migration) finds the port by its device', async () => {
    await xen.handle(plug(0));
    const renamed = parseXenHotplugRequest({ version: 1, toolstack: 'xenopsd', command: 'remove', action: 'unplug',
      device: { name: 'vif7.0', type: 'vif', domid: 7, devid: 0 }, vm: { uuid: OTHER } });
    assert.deepEqual(await xen.handle(renamed), { outcome: 'unplugged' });
    assert.equal(host.portsByName.size, 0);
  });

  it('plugs a fake bridge\'s device on its parent with its VLAN; a VLAN of its own is refused', async () => {
    assert.deepEqual(await xen.handle(plug(0, { bridge: 'xapi1' })), { outcome: 'plugged', bridge: 'xenbr0', vlan: 100 });
    assert.equal(host.portsByName.get('vif7.0')?.externalIds['vifd:network'], 'xapi1');
    await assert.rejects(xen.handle(plug(1, { bridge: 'xapi1', vlan: 5 })), (error: unknown) => error instanceof InvalidInputError && /fake bridge \(VLAN 100 on xenbr0\)/.test(error.message));
  });

  it('with xen.allowed_bridges, plugs only on the bridges listed (a fake bridge by its own name) and refuses any other by name', async () => {
    xen = new XenHotplug(engine, vms, fakeBridges, quietLog, ['xenbr1', 'xapi1']);
    await assert.rejects(xen.handle(plug(0, { vlan: 100 })), (error: unknown) =>
      error instanceof InvalidInputError && error.context.field === 'bridge' && /vif7\.0: bridge "xenbr0" is not one of xen\.allowed_bridges \(xenbr1, xapi1\)/.test(error.message));
    assert.equal(host.portsByName.has('vif7.0'), false);
    assert.deepEqual(await xen.handle(plug(1, { bridge: 'xapi1' })), { outcome: 'plugged', bridge: 'xenbr0', vlan: 100 });
  });

  it('GC removes the port of a domain whose device is gone, and only that', async () => {
    await xen.handle(plug(0));
    await xen.handle(plug(0, { uuid: OTHER, domid: 8 }));
    host.netDevices.add('vif8.0');
    host.netDevices.delete('vif7.0');
    const orphans = await engine.gc({ dryRun: false });
    assert.deepEqual(orphans.map((report) => report.device), ['vif7.0']);
    assert.deepEqual([...host.portsByName.keys()], ['vif8.0']);
  });

  it('after a restart, rebuilds its domains from the switch: a full reconcile keeps their ports, and the limit still counts them', async () => {
    for (let devid = 0; devid < 7; devid++) await xen.handle(plug(devid, { vlan: 100 }));
    start();
    await engine.reconcileAll('start');
    assert.equal(host.portsByName.size, 7);
    assert.equal(host.removedPorts.length, 0);
    await assert.rejects(xen.handle(plug(7)), LimitExceededError);
    assert.deepEqual(await xen.handle(plug(3, { vlan: 100 })), { outcome: 'unchanged', bridge: 'xenbr0', vlan: 100 });
  });

  it('leaves a plug of another kind alone (the composite source asks each source in turn)', async () => {
    const port = ownedPortAsWritten({ bridge: 'br', name: 'vd-other', vlan: { mode: 'none' }, externalIds: { 'vm-uuid': OTHER, 'vifd:vif-index': '0', 'attached-mac': '52:54:00:00:00:09' } });
    host.portsByName.set('vd-other', port);
    await xen.handle(plug(0));
    await xen.handle(unplug(0));
    assert.ok(host.portsByName.has('vd-other'));
  });
});
