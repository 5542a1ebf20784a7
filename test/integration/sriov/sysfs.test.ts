// The real SR-IOV sysfs code (discovery, sriov_numvfs, driver binding) against
// a fake sysfs tree laid out as the kernel lays out an igb PF, whose control
// files behave as drivers/pci/iov.c and the PCI bus code do.
import assert from 'node:assert/strict';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SriovSysfsError } from '../../../src/host/sriov/errors.js';
import { SriovSysfs } from '../../../src/host/sriov/sysfs.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import { FakeSriovKernel } from '../../harness/fake-sysfs/kernel.js';

const PF = parsePciAddress('0000:01:00.0');

describe('integration: sriov sysfs on a fake kernel tree', () => {
  let kernel: FakeSriovKernel;
  let sysfs: SriovSysfs;

  beforeEach(async () => {
    kernel = await FakeSriovKernel.create();
    sysfs = new SriovSysfs(kernel.root, kernel);
  });
  afterEach(() => kernel.remove());

  it('lays out links as the kernel does: relative virtfn, physfn, driver and class/net links', async () => {
    await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 2 });
    const dev = join(kernel.root, 'bus/pci/devices');
    assert.equal(await readlink(join(dev, PF)), '../../../devices/pci0000:00/0000:00:02.0/0000:01:00.0');
    assert.equal(await readlink(join(dev, PF, 'virtfn1')), '../0000:01:10.2');
    assert.equal(await readlink(join(dev, '0000:01:10.2', 'physfn')), '../0000:01:00.0');
    assert.equal(await readlink(join(dev, '0000:01:10.2', 'driver')), '../../../../bus/pci/drivers/igbvf');
    assert.equal(await readlink(join(kernel.root, 'class/net/enp1s0')), '../../devices/pci0000:00/0000:00:02.0/0000:01:00.0/net/enp1s0');
    assert.equal(await readlink(join(kernel.root, 'class/net/enp1s0/device')), '../../../0000:01:00.0');
  });

  it('finds a PF by netdev and by PCI address and reads its VFs (offset 128, stride 2)', async () => {
    await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 4 });
    assert.equal(await sysfs.pfAddress({ kind: 'netdev', name: 'enp1s0' }), PF);
    assert.equal(await sysfs.pfAddress({ kind: 'pci', address: PF }), PF);
    const pf = await sysfs.readPf(PF);
    assert.deepEqual({ ...pf, vfs: pf.vfs.map((vf) => `${vf.index} ${vf.address} ${vf.driver ?? '-'} ${vf.netdevs.join(',')}`) }, {
      address: PF, driver: 'igb', netdevs: ['enp1s0'], numVfs: 4, totalVfs: 7,
      vfs: ['0 0000:01:10.0 igbvf enp1s0v0', '1 0000:01:10.2 igbvf enp1s0v1', '2 0000:01:10.4 igbvf enp1s0v2', '3 0000:01:10.6 igbvf enp1s0v3'],
    });
    assert.equal(await sysfs.physfn(parsePciAddress('0000:01:10.4')), PF);
    assert.equal(await sysfs.physfn(PF), undefined);
    assert.equal(await sysfs.pfNetdevUp(PF, 'enp1s0'), true);
  });

  it('refuses unknown PFs with the name given', async () => {
    await assert.rejects(sysfs.pfAddress({ kind: 'netdev', name: 'nope0' }), (error: unknown) =>
      error instanceof SriovSysfsError && /^PF nope0: no network device nope0/.test(error.message));
    await assert.rejects(sysfs.pfAddress({ kind: 'pci', address: parsePciAddress('0000:09:00.0') }), /PF 0000:09:00.0: no SR-IOV PCI device/);
  });

  describe('sriov_numvfs', () => {
    it('is written when it is 0, and the VFs appear', async () => {
      await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7 });
      await sysfs.enableVfs(PF, 3);
      assert.deepEqual(kernel.writes, [['bus/pci/devices/0000:01:00.0/sriov_numvfs', '3']]);
      assert.equal((await sysfs.readPf(PF)).vfs.length, 3);
    });

    it('the same count again writes nothing', async () => {
      await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 4 });
      await sysfs.enableVfs(PF, 4);
      assert.deepEqual(kernel.writes, []);
    });

    it('a different non-zero count is refused without a write (re-creating VFs wipes them)', async () => {
      await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 4 });
      await assert.rejects(sysfs.enableVfs(PF, 2), (error: unknown) => {
        assert.ok(error instanceof SriovSysfsError);
        assert.match(error.message, /^PF 0000:01:00.0 sriov_numvfs: has 4 VFs, 2 wanted: vifd changes sriov_numvfs only from 0/);
        return true;
      });
      assert.deepEqual(kernel.writes, []);
    });

    it('more than sriov_totalvfs is refused', async () => {
      await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7 });
      await assert.rejects(sysfs.enableVfs(PF, 8), /8 VFs wanted, the device has at most 7/);
    });

    it('a kernel refusal (PF without a driver: ENOENT) becomes an SriovSysfsError with the errno', async () => {
      await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7 });
      await kernel.write(join(kernel.root, 'bus/pci/drivers/igb/unbind'), PF);
      await assert.rejects(sysfs.enableVfs(PF, 2), /writing "2" to .*sriov_numvfs failed: ENOENT/);
    });

    it('the fake refuses as the kernel does: EBUSY from N to M, ERANGE above total, 0 removes all', async () => {
      await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 4 });
      const numvfs = join(kernel.root, 'bus/pci/devices', PF, 'sriov_numvfs');
      await assert.rejects(kernel.write(numvfs, '2'), { code: 'EBUSY' });
      await assert.rejects(kernel.write(numvfs, '9'), { code: 'ERANGE' });
      await kernel.write(numvfs, '0');
      assert.deepEqual((await sysfs.readPf(PF)).vfs, []);
    });
  });

  describe('VF driver binding', () => {
    beforeEach(() => kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 2 }));

    it('moves a VF to vfio-pci through driver_override, unbind and drivers_probe; its netdev goes', async () => {
      const [vf] = (await sysfs.readPf(PF)).vfs;
      const bound = await sysfs.bindVf(PF, vf!, 'vfio-pci');
      assert.deepEqual(bound, { index: 0, address: '0000:01:10.0', driver: 'vfio-pci', driverOverride: 'vfio-pci', netdevs: [] });
      assert.deepEqual(kernel.writes, [
        ['bus/pci/devices/0000:01:10.0/driver_override', 'vfio-pci\n'],
        ['bus/pci/devices/0000:01:10.0/driver/unbind', '0000:01:10.0'],
        ['bus/pci/drivers_probe', '0000:01:10.0'],
      ]);
      assert.equal(await readlink(join(kernel.root, 'bus/pci/drivers/vfio-pci/0000:01:10.0')), '../../../../devices/pci0000:00/0000:00:02.0/0000:01:10.0');
    });

    it('is repeat-safe: binding a bound VF again writes nothing', async () => {
      const [vf] = (await sysfs.readPf(PF)).vfs;
      await sysfs.bindVf(PF, vf!, 'vfio-pci');
      kernel.writes.length = 0;
      await sysfs.bindVf(PF, vf!, 'vfio-pci');
      assert.deepEqual(kernel.writes, []);
    });

    it('restores the original driver and clears driver_override; the netdev comes back', async () => {
      const [, vf] = (await sysfs.readPf(PF)).vfs;
      await sysfs.bindVf(PF, vf!, 'vfio-pci');
      const back = await sysfs.restoreVfDriver(PF, vf!, { driver: 'igbvf' });
      assert.deepEqual(back, { index: 1, address: '0000:01:10.2', driver: 'igbvf', netdevs: ['enp1s0v1'] });
    });

    it('a VF that had no driver is left unbound on restore', async () => {
      const [vf] = (await sysfs.readPf(PF)).vfs;
      await sysfs.bindVf(PF, vf!, 'vfio-pci');
      assert.deepEqual(await sysfs.restoreVfDriver(PF, vf!, {}), { index: 0, address: '0000:01:10.0', netdevs: [] });
    });

    it('with sriov_drivers_autoprobe 0 a VF binds only through driver_override', async () => {
      await kernel.write(join(kernel.root, 'bus/pci/devices', PF, 'sriov_drivers_autoprobe'), '0');
      await kernel.recreateVfs(PF, 2);
      const [vf] = (await sysfs.readPf(PF)).vfs;
      assert.equal(vf?.driver, undefined);
      await kernel.write(join(kernel.root, 'bus/pci/drivers_probe'), vf!.address);
      assert.equal((await sysfs.readVf(vf!.address, 0)).driver, undefined);
      assert.equal((await sysfs.bindVf(PF, vf!, 'vfio-pci')).driver, 'vfio-pci');
    });

    it('a VF without an IOMMU group does not bind vfio-pci: refused naming PF, VF and what it is bound to', async () => {
      const other = parsePciAddress('0000:02:00.0');
      await kernel.addPf({ address: other, netdev: 'enp2s0', totalVfs: 4, numVfs: 1, iommu: false });
      const [vf] = (await sysfs.readPf(other)).vfs;
      await assert.rejects(sysfs.bindVf(other, vf!, 'vfio-pci'), (error: unknown) => {
        assert.ok(error instanceof SriovSysfsError);
        assert.match(error.message, /^PF 0000:02:00.0 VF 0 driver: 0000:02:10.0 is unbound after probing for vfio-pci/);
        return true;
      });
    });
  });
});
