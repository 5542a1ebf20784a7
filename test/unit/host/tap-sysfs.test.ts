// TapDevices reads state from sysfs; its root is a parameter so the reader can
// be checked on a fixture tree with the kernel's exact attribute formats.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceConflictError } from '../../../src/host/errors.js';
import { TapDevices } from '../../../src/host/tap.js';

function device(root: string, name: string, attributes: Record<string, string>): void {
  const dir = join(root, 'class/net', name);
  mkdirSync(dir, { recursive: true });
  for (const [attribute, value] of Object.entries({ ifindex: '7', ...attributes })) writeFileSync(join(dir, attribute), `${value}\n`);
}

describe('host/tap: reading TAP state from sysfs', () => {
  let root: string;
  let taps: TapDevices;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'vifd-sysfs-'));
    device(root, 'vdabc-0', { tun_flags: '0x5102', owner: '-1', group: '64055', address: '52:54:00:12:34:56', mtu: '9000', flags: '0x1003', ifalias: 'vifd:3f2504e0-4f89-11d3-9a0c-0305e82c3301/0' });
    device(root, 'vdabc-1', { tun_flags: '0x1002', owner: '0', group: '-1', address: '52:54:00:12:34:57', mtu: '1500', flags: '0x1002' });
    device(root, 'tun0', { tun_flags: '0x1001', owner: '-1', group: '-1', address: '', mtu: '1500', flags: '0x1091' });
    device(root, 'eth0', { address: '52:54:00:00:00:01', mtu: '1500', flags: '0x1003' });
    taps = new TapDevices(root);
  });
  after(() => { rmSync(root, { recursive: true, force: true }); });

  it('decodes flags, owner, group, MAC, MTU and link state', () => {
    assert.deepEqual(taps.read('vdabc-0'), {
      name: 'vdabc-0', multiQueue: true, vnetHdr: true, owner: null, group: 64055, mac: '52:54:00:12:34:56', mtu: 9000, up: true,
      alias: 'vifd:3f2504e0-4f89-11d3-9a0c-0305e82c3301/0',
    });
    assert.deepEqual(taps.read('vdabc-1'), {
      name: 'vdabc-1', multiQueue: false, vnetHdr: false, owner: 0, group: null, mac: '52:54:00:12:34:57', mtu: 1500, up: false, alias: null,
    });
  });

  it('is null for a missing device and a conflict for a non-TAP one', () => {
    assert.equal(taps.read('nothere'), null);
    assert.throws(() => taps.read('eth0'), DeviceConflictError);
    assert.throws(() => taps.read('tun0'), /tun0 exists and is not a TAP device/);
  });

  it('lists TAPs only, leaving out TUN devices and other links', () => {
    assert.deepEqual(taps.list().map((state) => state.name).sort(), ['vdabc-0', 'vdabc-1']);
  });

  it('leaves out a device that vanishes or changes under the read instead of failing the whole list', () => {
    const busy = mkdtempSync(join(tmpdir(), 'vifd-sysfs-'));
    try {
      device(busy, 'vdok-0', { tun_flags: '0x1002', owner: '-1', group: '-1', address: '52:54:00:00:00:02', mtu: '1500', flags: '0x1003' });
      // Being deleted: the kernel answers EINVAL for its attributes (here: a read error of another errno).
      device(busy, 'vdgoing-0', { tun_flags: '0x1002', owner: '-1', group: '-1', flags: '0x1003' });
      mkdirSync(join(busy, 'class/net/vdgoing-0/address'));
      // Listed by readdir, gone before its first attribute is read.
      mkdirSync(join(busy, 'class/net/vdgone-0'));
      const busyTaps = new TapDevices(busy);
      assert.deepEqual(busyTaps.list().map((state) => state.name), ['vdok-0']);
      assert.throws(() => busyTaps.read('vdgoing-0'), /EISDIR/, 'read() of one named device still reports the error');
    } finally {
      rmSync(busy, { recursive: true, force: true });
    }
  });
});
