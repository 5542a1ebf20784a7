import assert from 'node:assert/strict';
import { parseBackendPath, parseHotplugInvocation, parseNetbackName } from '../../../src/sources/xen-hotplug/invocation.js';
import { assertInvalidInput } from '../model/assert-invalid.js';

const libxlEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  script: '/etc/xen/scripts/vif-vifd', XENBUS_TYPE: 'vif', XENBUS_PATH: 'backend/vif/7/0', XENBUS_BASE_PATH: 'backend', netdev: '', vif: 'vif7.0', ...extra,
});
const xenopsdEnv = (type: 'vif' | 'tap'): Record<string, string> => ({
  script: '/usr/lib/xcp/scripts/vif', XENBUS_TYPE: type, XENBUS_PATH: `backend/${type}/7/0`, XENBUS_BASE_PATH: 'backend', XENBUS_PREFIX: '', INTERFACE: `${type}7.0`,
});

describe('sources/xen-hotplug/invocation: argv and environment of libxl and xenopsd', () => {
  describe('libxl', () => {
    it('online type_if=vif: plug vif7.0', () => {
      assert.deepEqual(parseHotplugInvocation(['online', 'type_if=vif'], libxlEnv()), {
        command: 'online', action: 'plug', type: 'vif', device: 'vif7.0', domid: 7, devid: 0, backendPath: 'backend/vif/7/0',
      });
    });
    it('offline type_if=vif: unplug', () => assert.equal(parseHotplugInvocation(['offline', 'type_if=vif'], libxlEnv()).action, 'unplug'));
    it('add type_if=tap: plug the emulated vif7.0-emu, results in the vif backend node', () => {
      assert.deepEqual(parseHotplugInvocation(['add', 'type_if=tap'], libxlEnv({ INTERFACE: 'vif7.0-emu' })), {
        command: 'add', action: 'plug', type: 'tap', device: 'vif7.0-emu', domid: 7, devid: 0, backendPath: 'backend/vif/7/0',
      });
    });
    it('remove type_if=tap: unplug the emulated NIC', () => {
      assert.equal(parseHotplugInvocation(['remove', 'type_if=tap'], libxlEnv({ INTERFACE: 'vif7.0-emu' })).action, 'unplug');
    });
    it('add type_if=vif does nothing (the vif is plugged at online)', () => {
      assert.equal(parseHotplugInvocation(['add', 'type_if=vif'], libxlEnv()).action, 'ignore');
    });
    it('keeps a gateway netdev', () => assert.equal(parseHotplugInvocation(['online', 'type_if=vif'], libxlEnv({ netdev: 'eth0' })).netdev, 'eth0'));
    it('takes an xl vifname as the device, the ids from XENBUS_PATH', () => {
      const invocation = parseHotplugInvocation(['online', 'type_if=vif'], libxlEnv({ vif: 'web-eth0' }));
      assert.deepEqual([invocation.device, invocation.domid, invocation.devid], ['web-eth0', 7, 0]);
    });
  });

  describe('xenopsd', () => {
    for (const command of ['add', 'online', 'remove', 'move'] as const) {
      for (const type of ['vif', 'tap'] as const) {
        const expected = { vif: { add: 'ignore', online: 'plug', remove: 'unplug', move: 'move' }, tap: { add: 'plug', online: 'plug', remove: 'unplug', move: 'move' } }[type][command];
        it(`${command} for ${type}7.0 without type_if (direct call) and with it (udev): ${expected}`, () => {
          for (const argv of [[command], [command, `type_if=${type}`]]) {
            const invocation = parseHotplugInvocation(argv, xenopsdEnv(type));
            assert.deepEqual([invocation.action, invocation.type, invocation.device, invocation.backendPath], [expected, type, `${type}7.0`, `backend/${type}/7/0`]);
          }
        });
      }
    }
    it('a udev tap event with INTERFACE only: ids from the name', () => {
      const invocation = parseHotplugInvocation(['add', 'type_if=tap'], { INTERFACE: 'tap12.3' });
      assert.deepEqual([invocation.domid, invocation.devid, invocation.backendPath], [12, 3, 'backend/tap/12/3']);
    });
    it('no type_if and no XENBUS_TYPE: the type from the INTERFACE name', () => {
      assert.equal(parseHotplugInvocation(['add'], { INTERFACE: 'tap7.0' }).type, 'tap');
      assert.equal(parseHotplugInvocation(['online'], { INTERFACE: 'vif7.0' }).type, 'vif');
    });
    it('accepts the absolute backend path', () => {
      assert.equal(parseHotplugInvocation(['online'], { ...xenopsdEnv('vif'), XENBUS_PATH: '/local/domain/0/backend/vif/7/0' }).domid, 7);
    });
  });

  describe('refusals name the field', () => {
    const cases: readonly [string, readonly string[], Record<string, string>, RegExp, string][] = [
      ['no command', [], libxlEnv(), /no command/, 'argv'],
      ['an unknown command', ['destroy'], libxlEnv(), /"destroy" is not a hotplug command/, 'argv'],
      ['two commands', ['online', 'offline'], libxlEnv(), /unexpected argument "offline"/, 'argv'],
      ['an unknown type_if', ['online', 'type_if=vbd'], libxlEnv(), /"vbd" is not a device type/, 'type_if'],
      ['an unknown XENBUS_TYPE', ['online'], { ...xenopsdEnv('vif'), XENBUS_TYPE: 'vbd' }, /"vbd" is not a device type/, 'XENBUS_TYPE'],
      ['a hostile vif name', ['online', 'type_if=vif'], libxlEnv({ vif: 'vif7.0;reboot' }), /is not a device name/, 'vif'],
      ['a vif name with a newline', ['online', 'type_if=vif'], libxlEnv({ vif: 'vif7\n0' }), /is not a device name/, 'vif'],
      ['a 300-character INTERFACE', ['add', 'type_if=tap'], libxlEnv({ INTERFACE: 'v'.repeat(300) }), /is not a device name/, 'INTERFACE'],
      ['a tap call without INTERFACE', ['add', 'type_if=tap'], libxlEnv(), /no INTERFACE/, 'INTERFACE'],
      ['a hostile XENBUS_PATH', ['online', 'type_if=vif'], libxlEnv({ XENBUS_PATH: 'backend/vif/7/0/../../x' }), /is not a vif backend path/, 'XENBUS_PATH'],
      ['a domid past Xen\'s range', ['online', 'type_if=vif'], libxlEnv({ XENBUS_PATH: 'backend/vif/32752/0', vif: 'x' }), /is not a vif backend path/, 'XENBUS_PATH'],
      ['a name of another device', ['online', 'type_if=vif'], libxlEnv({ vif: 'vif8.0' }), /"vif8.0" is not the device of "backend\/vif\/7\/0"/, 'vif'],
      ['no path and a name without ids', ['online', 'type_if=vif'], { vif: 'web-eth0' }, /cannot tell the domain and device/, 'XENBUS_PATH'],
      ['nothing to tell the type', ['online'], {}, /no type_if argument, XENBUS_TYPE or INTERFACE/, 'type_if'],
    ];
    for (const [what, argv, env, pattern, field] of cases) {
      it(what, () => assertInvalidInput(() => parseHotplugInvocation(argv, env), pattern, field));
    }
  });

  it('parseNetbackName: the three Xen shapes, and nothing else', () => {
    assert.deepEqual(parseNetbackName('vif7.0'), { domid: 7, devid: 0 });
    assert.deepEqual(parseNetbackName('tap32751.12'), { domid: 32751, devid: 12 });
    assert.deepEqual(parseNetbackName('vif7.1-emu'), { domid: 7, devid: 1 });
    for (const name of ['tap7.0-emu', 'vif07.0', 'vif7.00', 'vif32752.0', 'vif7', 'eth0', 'vif7.0-emux']) assert.equal(parseNetbackName(name), null, name);
  });

  it('parseBackendPath: vif and tap kinds', () => {
    assert.deepEqual(parseBackendPath('backend/tap/3/1'), { kind: 'tap', domid: 3, devid: 1 });
    assertInvalidInput(() => parseBackendPath('backend/vbd/3/1'), /is not a vif backend path/, 'XENBUS_PATH');
  });
});
