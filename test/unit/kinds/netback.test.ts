// The netback kind's decisions, asserted as data with no host: which ports
// are its own (by vifd's kind mark, never by name), what drift it reports, the
// steps it plans, and what it recovers from a port after a restart.
import assert from 'node:assert/strict';
import { reconcile } from '../../../src/engine/reconcile.js';
import { EXTERNAL_ID, vifExternalIds } from '../../../src/host/ovsdb/ports.js';
import { ownedPortAsWritten } from '../../../src/host/ovsdb/port-columns.js';
import { recoverNetbackVifs } from '../../../src/kinds/netback/recover.js';
import { netbackPortSpec } from '../../../src/kinds/netback/specs.js';
import type { NetbackDesiredVif } from '../../../src/kinds/netback/specs.js';
import { HostOperationError } from '../../../src/host/errors.js';
import type { LinkSettings } from '../../../src/host/net-devices.js';
import { XEN_HOST_SIDE_MAC, netbackLinkSettings } from '../../../src/kinds/netback/link.js';
import { executorsOn, kindsOn } from '../../../src/kinds/registry.js';
import { deviceName } from '../../../src/model/names.js';
import { FakeHost } from '../engine/fakes.js';

const VM = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const VIF_UUID = '11111111-2222-4333-8444-555555555555';
const NET_UUID = '66666666-7777-4888-8999-aaaaaaaaaaaa';

function desired(overrides: Partial<NetbackDesiredVif> = {}): NetbackDesiredVif {
  return {
    kind: 'netback', index: 0, device: 'vif7.0', mac: '00:16:3e:12:34:56', macSource: 'explicit', macCollisions: 0,
    network: 'xenbr0.100', bridge: 'xenbr0', vlan: { mode: 'access', tag: 100 }, mtu: 9000, vmUuid: VM, vmName: 'guest', xenVmName: 'guest', ...overrides,
  };
}

describe('kinds/netback', () => {
  let host: FakeHost;
  beforeEach(() => { host = new FakeHost(); });

  it('writes the keys Xen\'s and XAPI\'s tools read, vifd\'s owner keys and its kind mark', () => {
    const spec = netbackPortSpec(desired({ xapi: { vmUuid: VM, vifUuid: VIF_UUID, networkUuid: NET_UUID } }));
    assert.deepEqual(spec.externalIds, {
      ...vifExternalIds({ vmUuid: VM, index: 0, mac: '00:16:3e:12:34:56', ifaceId: VIF_UUID }),
      'xen-vm-uuid': VM, 'xen-vm-name': 'guest', 'xs-vm-uuid': VM, 'xs-vif-uuid': VIF_UUID, 'xs-network-uuid': NET_UUID,
      'vifd:network': 'xenbr0.100', 'vifd:kind': 'netback',
    });
    assert.equal(spec.mtuRequest, 9000);
    assert.equal(netbackPortSpec(desired()).externalIds[EXTERNAL_ID.ifaceId], `${VM}/0`);
  });

  it('a netback port is never the TAP kind\'s, even named like a vifd TAP; an unmarked port is never netback\'s', () => {
    const kinds = kindsOn(host);
    const tapNamed = deviceName(VM, 0);
    host.portsByName.set(tapNamed, ownedPortAsWritten(netbackPortSpec(desired({ device: tapNamed }))));
    host.portsByName.set('vif7.1', ownedPortAsWritten({ ...netbackPortSpec(desired({ device: 'vif7.1', index: 1 })),
      externalIds: vifExternalIds({ vmUuid: VM, index: 1, mac: '00:16:3e:00:00:01' }) }));
    assert.deepEqual(kinds.tap.observe().map((vif) => vif.device), ['vif7.1']);
    assert.deepEqual(kinds.tap.observe(VM).map((vif) => vif.device), ['vif7.1']);
    assert.deepEqual(kinds.netback.observe().map((vif) => vif.device), [tapNamed]);
    assert.deepEqual(kinds.netback.observe(VM).map((vif) => vif.device), [tapNamed]);
  });

  it('holds a MAC through its ports whose device exists: a dead domain\'s port (before GC) frees it; the TAP kind never counts it', () => {
    const kinds = kindsOn(host);
    host.portsByName.set('vif7.0', ownedPortAsWritten(netbackPortSpec(desired())));
    assert.deepEqual(kinds.netback.macUsers('00:16:3e:12:34:56'), []);
    host.netDevices.add('vif7.0');
    assert.deepEqual(kinds.netback.macUsers('00:16:3e:12:34:56'), [VM]);
    assert.deepEqual(kinds.tap.macUsers('00:16:3e:12:34:56'), []);
  });

  it('reports a vanished device as drift it cannot repair, and a wrong port as one ensure', () => {
    const kinds = kindsOn(host);
    const want = desired();
    host.portsByName.set('vif7.0', { ...ownedPortAsWritten(netbackPortSpec(want)), tag: 200 });
    const gone = reconcile(kinds, [want], kinds.netback.observe(), () => true);
    assert.deepEqual(gone.reports[0]?.drift.map((d) => d.field), ['device', 'tag']);
    assert.deepEqual(gone.steps, [{ kind: 'ensure-netback-port', vif: want, staleFlowsOn: null }]);
    host.portsByName.set('vif7.0', ownedPortAsWritten(netbackPortSpec(want)));
    const onlyDevice = reconcile(kinds, [want], kinds.netback.observe(), () => true);
    assert.deepEqual(onlyDevice.reports[0]?.drift, [{ field: 'device', wanted: 'vif7.0', seen: 'none' }]);
    assert.deepEqual(onlyDevice.steps, []);
    host.netDevices.add('vif7.0');
    host.links.set('vif7.0', { mac: XEN_HOST_SIDE_MAC, mtu: 9000, up: true });
    assert.equal(reconcile(kinds, [want], kinds.netback.observe(), () => true).reports[0]?.state, 'ok');
  });

  it('sets a new device as Xen\'s scripts do (MAC fe:ff:ff:ff:ff:ff, the MTU asked, up) before its port', () => {
    const kinds = kindsOn(host);
    const want = desired();
    host.netDevices.add('vif7.0');
    const plug = reconcile(kinds, [want], kinds.netback.observe(), () => true);
    assert.deepEqual(plug.steps, [{ kind: 'ensure-netback-link', vif: want }, { kind: 'ensure-netback-port', vif: want, staleFlowsOn: null }]);
    assert.deepEqual(netbackLinkSettings(want), { mac: 'fe:ff:ff:ff:ff:ff', up: true, mtu: 9000 });
    assert.deepEqual(netbackLinkSettings(desired({ mtu: undefined })), { mac: 'fe:ff:ff:ff:ff:ff', up: true });
    assert.equal(executorsOn(host)['ensure-netback-link'].phase < executorsOn(host)['ensure-netback-port'].phase, true);
  });

  for (const [what, link, fields] of [
    ['a MAC', { mac: '00:16:3e:aa:bb:cc', mtu: 9000, up: true }, ['link.mac']],
    ['an MTU', { mac: XEN_HOST_SIDE_MAC, mtu: 1500, up: true }, ['link.mtu']],
    ['a down link', { mac: XEN_HOST_SIDE_MAC, mtu: 9000, up: false }, ['link.up']],
    ['everything', { mac: '02:00:00:00:00:01', mtu: 1400, up: false }, ['link.mac', 'link.mtu', 'link.up']],
  ] as const) {
    it(`shows ${what} that differs on a plugged device as drift and repairs the link alone`, () => {
      const kinds = kindsOn(host);
      const want = desired();
      host.netDevices.add('vif7.0');
      host.links.set('vif7.0', link);
      host.portsByName.set('vif7.0', ownedPortAsWritten(netbackPortSpec(want)));
      const result = reconcile(kinds, [want], kinds.netback.observe(), () => true);
      assert.equal(result.reports[0]?.state, 'drift');
      assert.deepEqual(result.reports[0].drift.map((d) => d.field), fields);
      assert.deepEqual(result.steps, [{ kind: 'ensure-netback-link', vif: want }]);
    });
  }

  it('leaves the MTU alone when none was asked for', () => {
    const kinds = kindsOn(host);
    const want = desired({ mtu: undefined });
    host.netDevices.add('vif7.0');
    host.links.set('vif7.0', { mac: XEN_HOST_SIDE_MAC, mtu: 1400, up: true });
    host.portsByName.set('vif7.0', ownedPortAsWritten(netbackPortSpec(want)));
    assert.equal(reconcile(kinds, [want], kinds.netback.observe(), () => true).reports[0]?.state, 'ok');
  });

  it('the link step sets the device and skips one already gone; removal takes the device down', async () => {
    const want = desired();
    const executors = executorsOn(host);
    const tally = { created: [], detached: 0, destroyed: 0 };
    await executors['ensure-netback-link'].run({ kind: 'ensure-netback-link', vif: want }, tally);
    assert.equal(host.links.has('vif7.0'), false);
    host.netDevices.add('vif7.0');
    await executors['ensure-netback-link'].run({ kind: 'ensure-netback-link', vif: want }, tally);
    assert.deepEqual(host.links.get('vif7.0'), { mac: XEN_HOST_SIDE_MAC, mtu: 9000, up: true });
    host.portsByName.set('vif7.0', ownedPortAsWritten(netbackPortSpec(want)));
    await executors['remove-netback-port'].run({ kind: 'remove-netback-port', device: 'vif7.0', vmUuid: VM, flowsOn: null }, tally);
    assert.deepEqual(host.links.get('vif7.0'), { mac: XEN_HOST_SIDE_MAC, mtu: 9000, up: false });
    assert.equal(host.portsByName.has('vif7.0'), false);
    assert.equal(tally.detached, 1);
  });

  it('an MTU netback refuses before the frontend connects (EINVAL) leaves the plug done and the MTU as drift; other failures fail it', async () => {
    const want = desired();
    host.netDevices.add('vif7.0');
    const configure = host.devices.configure;
    const refuse = (errno: number) => (name: string, settings: LinkSettings): string[] => {
      if (settings.mtu !== undefined) throw new HostOperationError(`device ${name}: SIOCSIFMTU failed`, { field: 'device', value: errno });
      return configure(name, settings);
    };
    const tally = { created: [], detached: 0, destroyed: 0 };
    host.devices.configure = refuse(22);
    await executorsOn(host)['ensure-netback-link'].run({ kind: 'ensure-netback-link', vif: want }, tally);
    assert.deepEqual(host.links.get('vif7.0'), { mac: XEN_HOST_SIDE_MAC, mtu: 1500, up: true });
    host.portsByName.set('vif7.0', ownedPortAsWritten(netbackPortSpec(want)));
    const kinds = kindsOn(host);
    const later = reconcile(kinds, [want], kinds.netback.observe(), () => true);
    assert.deepEqual(later.reports[0]?.drift, [{ field: 'link.mtu', wanted: '9000', seen: '1500' }]);
    assert.deepEqual(later.steps, [{ kind: 'ensure-netback-link', vif: want }]);
    host.devices.configure = refuse(1);
    assert.throws(() => executorsOn(host)['ensure-netback-link'].run({ kind: 'ensure-netback-link', vif: want }, tally), HostOperationError);
  });

  it('removes only the port of an orphan (the device is Xen\'s)', () => {
    const kinds = kindsOn(host);
    host.netDevices.add('vif7.0');
    host.portsByName.set('vif7.0', ownedPortAsWritten(netbackPortSpec(desired())));
    assert.deepEqual(reconcile(kinds, [], kinds.netback.observe(), () => true).steps, [{ kind: 'remove-netback-port', device: 'vif7.0', vmUuid: VM, flowsOn: null }]);
  });

  it('recovers each VIF\'s intent from its port, as it was planned', () => {
    const xapi = { vmUuid: VM, vifUuid: VIF_UUID, networkUuid: NET_UUID };
    const trunked = desired({ device: 'vif7.1', index: 1, vlan: { mode: 'native-untagged', tag: 10, trunks: [20, 30] }, xapi });
    const ports = [ownedPortAsWritten(netbackPortSpec(desired())), ownedPortAsWritten(netbackPortSpec(trunked))];
    assert.deepEqual(recoverNetbackVifs(ports), [
      { vmUuid: VM, vmName: 'guest', vif: { index: 0, kind: 'netback', device: 'vif7.0', network: 'xenbr0.100', bridge: 'xenbr0', vlan: { mode: 'access', tag: 100 }, mac: '00:16:3e:12:34:56', mtu: 9000, vmName: 'guest' } },
      { vmUuid: VM, vmName: 'guest', vif: { index: 1, kind: 'netback', device: 'vif7.1', network: 'xenbr0.100', bridge: 'xenbr0', vlan: { mode: 'native-untagged', tag: 10, trunks: [20, 30] }, mac: '00:16:3e:12:34:56', mtu: 9000, vmName: 'guest', xapi } },
    ]);
    const tapPort = ownedPortAsWritten({ bridge: 'br', name: 'vd-x', vlan: { mode: 'none' }, externalIds: vifExternalIds({ vmUuid: VM, index: 0, mac: '52:54:00:00:00:01' }) });
    assert.deepEqual(recoverNetbackVifs([tapPort]), []);
  });
});
