import assert from 'node:assert/strict';
import { parseMtu, parseXenHotplugRequest, parseXenHotplugResult } from '../../../src/sources/xen-hotplug/protocol.js';
import type { XenPlugRequest } from '../../../src/sources/xen-hotplug/protocol.js';
import { assertInvalidInput } from '../model/assert-invalid.js';

const UUID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const plug: XenPlugRequest = {
  version: 1, toolstack: 'xenopsd', command: 'online', action: 'plug',
  device: { name: 'vif7.0', type: 'vif', domid: 7, devid: 0 },
  vm: { uuid: UUID, finalUuid: '11111111-2222-4333-8444-555555555555', name: 'web1' }, mac: '00:16:3e:12:34:56',
  bridge: { bridge: 'xenbr0', vlan: 100, trunks: [200, 300] }, mtu: 9000,
  xapi: { vifUuid: '6b1f0f4e-2f0a-4d7e-9a51-0c1d2e3f4a5b', networkUuid: '0e1d2c3b-4a59-4876-8a9b-aabbccddeeff', lockingMode: 'locked', ipv4Allowed: ['10.0.0.5'] },
};

describe('sources/xen-hotplug/protocol: the xen-hotplug request and result', () => {
  it('a plug request survives the daemon\'s validation unchanged (JSON round trip)', () => {
    assert.deepEqual(parseXenHotplugRequest(JSON.parse(JSON.stringify(plug))), plug);
  });

  it('an unplug request needs only the device', () => {
    const unplug = { version: 1, toolstack: 'libxl', command: 'offline', action: 'unplug', device: { name: 'vif7.0-emu', type: 'tap', domid: 7, devid: 0 } };
    assert.deepEqual(parseXenHotplugRequest(unplug), unplug);
  });

  for (const [what, change, pattern, field] of [
    ['another protocol version', { version: 2 }, /protocol version 2; this vifd speaks 1/, 'version'],
    ['an unknown toolstack', { toolstack: 'xend' }, /expected "libxl" or "xenopsd"/, 'toolstack'],
    ['an unknown action', { action: 'destroy' }, /expected "plug", "move" or "unplug"/, 'action'],
    ['a device name of another domain', { device: { name: 'vif8.0', type: 'vif', domid: 7, devid: 0 } }, /"vif8.0" is not the device of domain 7 devid 0/, 'device.name'],
    ['a hostile device name', { device: { name: 'x;reboot', type: 'vif', domid: 7, devid: 0 } }, /is not the device/, 'device.name'],
    ['a hostile bridge', { bridge: { bridge: 'xenbr0;x' } }, /holds ";"/, 'bridge.bridge'],
    ['VLAN 4095', { bridge: { bridge: 'xenbr0', vlan: 4095 } }, /expected a VLAN id 1-4094/, 'bridge.vlan'],
    ['an empty trunk list', { bridge: { bridge: 'xenbr0', trunks: [] } }, /expected a list of VLAN ids/, 'bridge.trunks'],
    ['a bad MAC', { mac: 'zz' }, /MAC/, 'mac'],
    ['a bad MTU', { mtu: 70000 }, /expected an MTU 68-65535/, 'mtu'],
    ['a bad vm uuid', { vm: { uuid: 'x' } }, /is not a UUID/, 'vm.uuid'],
    ['a bad locking mode', { xapi: { ...plug.xapi, lockingMode: 'open' } }, /"open" is not a locking mode/, 'xapi.lockingMode'],
  ] as const) {
    it(`refuses ${what}, naming the field`, () => assertInvalidInput(() => parseXenHotplugRequest({ ...plug, ...change }), pattern, field));
  }

  it('reads the daemon\'s results and refuses anything else', () => {
    assert.deepEqual(parseXenHotplugResult({ outcome: 'plugged', bridge: 'xenbr0', vlan: 100, extra: 1 }), { outcome: 'plugged', bridge: 'xenbr0', vlan: 100 });
    assert.deepEqual(parseXenHotplugResult({ outcome: 'unchanged' }), { outcome: 'unchanged' });
    assertInvalidInput(() => parseXenHotplugResult({ ok: true }), /not a xen-hotplug result/, 'result');
    assertInvalidInput(() => parseXenHotplugResult(null), /not a xen-hotplug result/, 'result');
  });

  it('parseMtu: 68-65535 as plain decimal text', () => {
    assert.equal(parseMtu('1500', 'MTU'), 1500);
    for (const text of ['67', '65536', '1500;x', ' 1500', '01500', '', '1e3']) assertInvalidInput(() => parseMtu(text, 'MTU'), /is not an MTU/, 'MTU');
  });
});
