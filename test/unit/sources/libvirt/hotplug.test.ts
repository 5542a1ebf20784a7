// Hot-plug and hot-unplug decisions against an in-memory host and libvirt:
// next free index, intent written before the device, rollback when libvirt
// refuses, TAP and port kept until the guest releases the NIC.
import assert from 'node:assert/strict';
import { Engine } from '../../../../src/engine/engine.js';
import { HotPlug } from '../../../../src/sources/libvirt/hotplug.js';
import { parseDomainXml } from '../../../../src/sources/libvirt/domain-xml.js';
import { LimitExceededError, MacInUseError } from '../../../../src/model/errors.js';
import { deviceName } from '../../../../src/model/names.js';
import { FakeControl, FakeDomains, FakeHost, prepareXml, TEMPLATE, VM_A, VM_B, domainXml, quietLog, settings } from '../../engine/fakes.js';

describe('engine/hotplug: attach and detach on a running VM', () => {
  let host: FakeHost;
  let domains: FakeDomains;
  let control: FakeControl;
  let engine: Engine;
  let hotPlug: HotPlug;

  beforeEach(async () => {
    host = new FakeHost();
    domains = new FakeDomains();
    const xml = domainXml(VM_A, 'web1', ['prod']);
    control = new FakeControl(VM_A, 'web1', xml);
    engine = new Engine({ settings, source: domains, host, log: quietLog });
    hotPlug = new HotPlug(engine, control, TEMPLATE, quietLog, 300);
    domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: true, xml });
    domains.xmlOf = (uuid) => (uuid === VM_A ? control.live : undefined);
    domains.metadataSink = (uuid, metadata, flags) => control.setIntent(uuid, metadata, flags);
    await prepareXml(engine, xml);
    await engine.reconcileDomain(VM_A, 'started');
  });

  it('refuses a MAC another running VM uses, naming both, and touches nothing', async () => {
    await prepareXml(engine, domainXml(VM_B, 'db', ['prod'], { macs: ['52:54:00:aa:bb:01'] }));
    await assert.rejects(hotPlug.attach('web1', { network: 'prod', mac: '52:54:00:aa:bb:01' }), (error: unknown) =>
      error instanceof MacInUseError && error.message === `VM "web1" VIF 1: mac: MAC 52:54:00:aa:bb:01 is already used by VM "db" (${VM_B})`);
    assert.equal(host.tapsByName.has(deviceName(VM_A, 1)), false);
    assert.deepEqual(control.calls, []);
  });

  it('takes a VLAN of its own when asked, and refuses a bad one naming the field', async () => {
    assert.equal((await hotPlug.attach('web1', { network: 'prod', vlan: '300' })).vlan, 'access 300');
    assert.equal(host.portsByName.get(deviceName(VM_A, 1))?.tag, 300);
    await assert.rejects(hotPlug.attach('web1', { network: 'prod', vlan: '4095' }), /VM "web1" VIF 2: vlan: /);
    assert.equal(host.portsByName.has(deviceName(VM_A, 2)), false);
  });

  it('plugs the next index, writes the intent live and persistent before attaching, and keeps it on reconcile', async () => {
    const result = await hotPlug.attach('web1', { network: 'stor' });
    assert.deepEqual([result.index, result.device, result.bridge, result.vlan, result.persistent], [1, deviceName(VM_A, 1), 'br-stor', 'trunk 200-201', true]);
    assert.deepEqual(control.calls, ['setIntent live', 'setIntent config', 'attach']);
    for (const xml of [control.live, control.persistent]) {
      const parsed = parseDomainXml(xml);
      assert.deepEqual(parsed.intent?.vifs.map((vif) => [vif.index, vif.network]), [[0, 'prod'], [1, 'stor']]);
      assert.ok(parsed.interfaces.some((definition) => definition.targetDev === result.device));
    }
    await engine.reconcileDomain(VM_A, 'device-added');
    assert.ok(host.portsByName.has(result.device) && host.tapsByName.has(result.device));
  });

  it('rolls back TAP, port and intent when libvirt refuses the device', async () => {
    control.refuseAttach = 'internal error: no free PCI slot';
    await assert.rejects(hotPlug.attach(VM_A, { network: 'prod' }), /VM "web1": internal error: no free PCI slot/);
    assert.equal(host.portsByName.has(deviceName(VM_A, 1)) || host.tapsByName.has(deviceName(VM_A, 1)), false);
    for (const xml of [control.live, control.persistent]) assert.deepEqual(parseDomainXml(xml).intent?.vifs.map((vif) => vif.index), [0]);
    assert.ok(host.portsByName.has(deviceName(VM_A, 0)), 'VIF 0 must stay');
  });

  it('refuses the 8th VIF before touching anything', async () => {
    for (let n = 1; n < 7; n++) await hotPlug.attach('web1', { network: 'prod' });
    control.calls.length = 0;
    await assert.rejects(hotPlug.attach('web1', { network: 'prod' }), (error: unknown) =>
      error instanceof LimitExceededError && /VM "web1": asks for 8 VIFs; the limit is 7/.test(error.message));
    assert.deepEqual(control.calls, []);
    assert.equal(host.portsByName.size, 7);
  });

  it('removes TAP and port once the guest released the NIC, and reuses the freed index', async () => {
    await hotPlug.attach('web1', { network: 'prod' });
    const detached = await hotPlug.detach('web1', { index: 1 });
    assert.equal(detached.state, 'removed');
    assert.equal(host.portsByName.has(deviceName(VM_A, 1)), false);
    assert.deepEqual(parseDomainXml(control.persistent).intent?.vifs.map((vif) => vif.index), [0]);
    assert.equal((await hotPlug.attach('web1', { network: 'prod' })).index, 1);
    assert.deepEqual(control.calls.slice(-6, -3), ['setIntent live', 'setIntent config', 'detach'], 'intent leaves before the device');
  });

  it('keeps TAP and port while the guest holds the NIC (pending), until libvirt reports it gone', async () => {
    await hotPlug.attach('web1', { network: 'prod' });
    control.guestReleases = false;
    const detached = await hotPlug.detach('web1', { mac: (await hotPlug.attach('web1', { network: 'prod' })).mac });
    assert.equal(detached.state, 'pending');
    assert.ok(host.portsByName.has(detached.device), 'removed while the guest still uses it');
    const state = (): [string, readonly string[]] | undefined => engine.status().filter((vif) => vif.device === detached.device).map((vif) => [vif.state, vif.problems] as [string, readonly string[]])[0];
    assert.deepEqual(state(), ['detaching', ['detach requested; waiting for the guest to release it']]);
    await engine.reconcileDomain(VM_A, 'device-removal-failed');
    const alias = 'net9';
    control.live = control.live.replace(`<target dev='${detached.device}' managed='no'/>`, `<target dev='${detached.device}' managed='no'/><alias name='${alias}'/>`);
    const index = await domains.vifIndexOfAlias(VM_A, alias);
    assert.equal(index, detached.index);
    engine.noteRemovalFailed(VM_A, detached.index);
    assert.ok(host.portsByName.has(detached.device));
    assert.deepEqual(state(), ['detaching', ['detach requested; the guest did not release it (device-removal-failed)']]);
    control.live = control.live.replace(new RegExp(`<interface type='ethernet'><mac address='${detached.mac}'/>[\\s\\S]*?</interface>`), '');
    await engine.reconcileDomain(VM_A, 'device-removed');
    assert.equal(host.portsByName.has(detached.device), false);
  });

  it('picks up a VIF another tool attaches: intent first (plugged ahead), then the interface', async () => {
    const xml = domainXml(VM_A, 'web1', ['prod', 'stor']);
    const [, second] = /(<interface type='ethernet'><mac address='[^']+'\/><target dev='[^']+-1'[\s\S]*?<\/interface>)/.exec(xml) ?? [];
    assert.ok(second !== undefined);
    await control.setIntent(VM_A, '<vifd><vif index="0" network="prod"/><vif index="1" network="stor"/></vifd>', { live: true });
    await engine.reconcileDomain(VM_A, 'metadata-change');
    assert.ok(host.tapsByName.has(deviceName(VM_A, 1)), 'the TAP must exist before libvirt attaches the interface');
    control.live = control.live.replace('</devices>', `${second}</devices>`);
    await engine.reconcileDomain(VM_A, 'device-added');
    assert.deepEqual(engine.status().map((vif) => [vif.device, vif.state]), [[deviceName(VM_A, 0), 'ok'], [deviceName(VM_A, 1), 'ok']]);
  });

  it('drops a VIF another tool detaches: its entry leaves the live intent, TAP and port go', async () => {
    const attached = await hotPlug.attach('web1', { network: 'prod' });
    await engine.reconcileDomain(VM_A, 'device-added');
    control.live = control.live.replace(new RegExp(`<interface type='ethernet'><mac address='${attached.mac}'/>[\\s\\S]*?</interface>`), '');
    await engine.reconcileDomain(VM_A, 'device-removed');
    assert.equal(host.portsByName.has(attached.device) || host.tapsByName.has(attached.device), false);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(parseDomainXml(control.live).intent?.vifs.map((vif) => vif.index), [0]);
  });
});
