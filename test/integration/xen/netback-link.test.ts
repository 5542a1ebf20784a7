// The host side of a Xen device as Xen's scripts leave it, against a real
// TAP named as netback names its devices (vifD.0) on real ovsdb-server and
// ovs-vswitchd: a plug sets the device's MAC to fe:ff:ff:ff:ff:ff, its MTU to
// the one asked for and the link up (read back from sysfs); a device changed
// behind vifd's back is shown as drift and repaired; an unplug takes it down.
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
import { parseXenHotplugRequest } from '../../../src/sources/xen-hotplug/protocol.js';
import { XenVms } from '../../../src/sources/xen-hotplug/vms.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { createTap, deleteLink } from '../../harness/net.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const sysfs = (device: string, attribute: string): string => readFileSync(`/sys/class/net/${device}/${attribute}`, 'utf8').trim();
const link = (device: string): { mac: string; mtu: number; up: boolean } =>
  ({ mac: sysfs(device, 'address'), mtu: Number(sysfs(device, 'mtu')), up: (Number.parseInt(sysfs(device, 'flags'), 16) & 1) === 1 });

describe('integration: a Xen device\'s host side (MAC, MTU, link) on a real TAP', function () {
  this.timeout(120_000);
  const lab = new Lab();
  const taps = new TapDevices();
  const devices = new NetDevices();
  const domid = randomInt(20_000, 32_000);
  const device = `vif${domid}.0`;
  const vmUuid = randomUUID();
  let bridge: string;
  let engine: Engine;
  let xen: XenHotplug;

  const plug = (mtu: number) => parseXenHotplugRequest({
    version: 1, toolstack: 'xenopsd', command: 'online', action: 'plug', device: { name: device, type: 'vif', domid, devid: 0 },
    vm: { uuid: vmUuid, name: 'xen guest' }, mac: '00:16:3e:aa:01:00', bridge: { bridge }, mtu,
  });

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
    bridge = await lab.bridge();
    lab.defer(`TAP ${device}`, () => deleteLink(device));
    await createTap(device);
    // As netback leaves a new device: down, with an address that is not Xen's host-side one.
    await run(['ip', 'link', 'set', 'dev', device, 'down', 'address', '02:00:00:aa:01:00']);
    const client = new OvsdbClient({ monitor: PORT_MONITOR });
    await client.start();
    lab.defer('OVSDB client', () => { client.close(); taps.close(); devices.close(); return Promise.resolve(); });
    const vms = new XenVms({ exists: (name) => devices.exists(name), recover: () => recoverNetbackVifs(client.ownedPorts.all()) });
    engine = new Engine({
      settings: { macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 }, networks: new Map() },
      source: new CompositeSource(vms), log: quiet, host: hostEffectors(taps, new PortWriter(client), client, devices),
    });
    xen = new XenHotplug(engine, vms, (name) => resolveFakeBridge(client.replica, name), quiet);
    lab.defer('the VM\'s ports', async () => { await engine.release(() => Promise.resolve({ uuid: vmUuid, name: 'xen guest' })); });
  });
  after(() => lab.cleanup());

  it('a plug sets MAC fe:ff:ff:ff:ff:ff, the MTU asked and the link up; called again, changes nothing', async () => {
    assert.deepEqual(link(device), { mac: '02:00:00:aa:01:00', mtu: 1500, up: false });
    assert.deepEqual(await xen.handle(plug(1400)), { outcome: 'plugged', bridge });
    assert.deepEqual(link(device), { mac: 'fe:ff:ff:ff:ff:ff', mtu: 1400, up: true });
    assert.deepEqual(devices.read(device), { mac: 'fe:ff:ff:ff:ff:ff', mtu: 1400, up: true });
    assert.deepEqual(await xen.handle(plug(1400)), { outcome: 'unchanged', bridge });
    assert.deepEqual(engine.status().filter((vif) => vif.device === device).map((vif) => vif.state), ['ok']);
  });

  it('shows a MAC, MTU and link changed behind its back as drift, and repairs them', async () => {
    await run(['ip', 'link', 'set', 'dev', device, 'down', 'address', '02:00:00:aa:01:99', 'mtu', '1300']);
    const report = engine.status().find((vif) => vif.device === device);
    assert.equal(report?.state, 'drift');
    // ovs-vswitchd applies the port's mtu_request itself and may put the MTU back before vifd looks.
    assert.deepEqual(report.drift.filter((d) => d.field === 'link.mac' || d.field === 'link.up'), [
      { field: 'link.mac', wanted: 'fe:ff:ff:ff:ff:ff', seen: '02:00:00:aa:01:99' },
      { field: 'link.up', wanted: 'up', seen: 'down' },
    ]);
    assert.equal(await engine.repairDrift(), 1);
    await engine.idle();
    assert.deepEqual(link(device), { mac: 'fe:ff:ff:ff:ff:ff', mtu: 1400, up: true });
    assert.deepEqual(engine.status().filter((vif) => vif.device === device).map((vif) => vif.state), ['ok']);
  });

  it('XAPI locking_mode: unlocked is recorded on the port; disabled leaves no port; locked plugs and is recorded', async () => {
    const xapi = (lockingMode: string) => ({ ...plug(1400), xapi: { vifUuid: randomUUID(), networkUuid: randomUUID(), lockingMode } });
    const ports = async (): Promise<string[]> => (await run(['ovs-vsctl', '--timeout=10', 'list-ports', bridge])).split('\n');
    assert.deepEqual(await xen.handle(parseXenHotplugRequest(xapi('unlocked'))), { outcome: 'plugged', bridge });
    assert.equal((await run(['ovs-vsctl', '--timeout=10', 'get', 'Interface', device, 'external_ids:"vifd:locking-mode"'])).trim(), 'unlocked');
    assert.deepEqual(await xen.handle(parseXenHotplugRequest(xapi('disabled'))), { outcome: 'disabled' });
    assert.ok(!(await ports()).includes(device));
    assert.deepEqual(await xen.handle(parseXenHotplugRequest(xapi('locked'))), { outcome: 'plugged', bridge });
    assert.equal((await run(['ovs-vsctl', '--timeout=10', 'get', 'Interface', device, 'external_ids:"vifd:locking-mode"'])).trim(), 'locked');
    assert.deepEqual(await xen.handle(plug(1400)), { outcome: 'plugged', bridge });
  });

  it('an unplug removes the port and takes the device down, as vif-openvswitch does', async () => {
    const unplug = parseXenHotplugRequest({ version: 1, toolstack: 'xenopsd', command: 'remove', action: 'unplug', device: { name: device, type: 'vif', domid, devid: 0 }, vm: { uuid: vmUuid } });
    assert.deepEqual(await xen.handle(unplug), { outcome: 'unplugged' });
    assert.equal(link(device).up, false);
    assert.ok(!(await run(['ovs-vsctl', '--timeout=10', 'list-ports', bridge])).split('\n').includes(device));
  });
});
