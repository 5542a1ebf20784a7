// A sysfs tree laid out as the kernel lays out an SR-IOV NIC (research/sriov.md
// §4a, measured on igb in a guest), and a small simulator of what the kernel
// does on writes to its control files: sriov_numvfs (EBUSY, ERANGE, ENOENT,
// VFs created with offset/stride, config wiped), driver_override +
// drivers_probe, driver/unbind, sriov_drivers_autoprobe. Plain files cannot
// refuse a write, so the VF code is handed this class as its SysfsIo.
import { mkdtemp, mkdir, readFile, readdir, readlink, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { SysfsIo } from '../../../src/host/sriov/sysfs.js';
import { FakeVfNetlink } from './netlink.js';

export interface FakePfSpec {
  readonly address: string;
  readonly netdev: string;
  readonly totalVfs: number;
  readonly numVfs?: number;
  readonly driver?: string;
  /** The host driver VFs get when probed without an override. */
  readonly vfDriver?: string;
  readonly offset?: number;
  readonly stride?: number;
  /** VFs without an IOMMU group cannot bind vfio-pci. */
  readonly iommu?: boolean;
}

interface PfState {
  readonly spec: Required<FakePfSpec>;
  numVfs: number;
  autoprobe: boolean;
  readonly vfAddresses: string[];
}

const ROOT_PORT = 'devices/pci0000:00/0000:00:02.0';
/** Drivers that bind network VFs and give them a netdev. */
const NET_DRIVERS = new Set(['igb', 'igbvf', 'ixgbevf', 'iavf', 'mlx5_core']);

export const kernelError = (code: string, path: string): Error => Object.assign(new Error(`${code}: write ${path}`), { code });

function vfAddress(pf: string, offset: number, stride: number, index: number): string {
  const [domain = '', bus = '', rest = ''] = pf.split(':');
  const [slot = '', fn = ''] = rest.split('.');
  const devfn = (Number.parseInt(slot, 16) << 3) + Number(fn) + offset + stride * index;
  const busNumber = Number.parseInt(bus, 16) + (devfn >> 8);
  const hex = (value: number, width: number): string => value.toString(16).padStart(width, '0');
  return `${domain}:${hex(busNumber, 2)}:${hex((devfn & 0xff) >> 3, 2)}.${devfn & 7}`;
}

export class FakeSriovKernel implements SysfsIo {
  readonly pfs = new Map<string, PfState>();
  readonly netlink: FakeVfNetlink;
  private readonly owners = new Map<string, string>(); // VF address -> PF address
  private nextIommuGroup = 10;
  /** Every write the VF code made, in order (path relative to the sysfs root, text). */
  readonly writes: [string, string][] = [];

  private constructor(readonly base: string, readonly root: string) {
    this.netlink = new FakeVfNetlink();
  }

  static async create(): Promise<FakeSriovKernel> {
    const base = await mkdtemp(join(tmpdir(), 'vifd-fake-sysfs-'));
    const kernel = new FakeSriovKernel(base, join(base, 'sys'));
    for (const dir of ['bus/pci/devices', 'bus/pci/drivers', 'class/net', 'kernel/iommu_groups', ROOT_PORT]) await mkdir(join(kernel.root, dir), { recursive: true });
    await writeFile(join(kernel.root, 'bus/pci/drivers_probe'), '');
    for (const driver of ['igb', 'igbvf', 'vfio-pci', 'pciback']) await kernel.registerDriver(driver);
    return kernel;
  }

  async remove(): Promise<void> {
    await rm(this.base, { recursive: true, force: true });
  }

  private at(path: string): string {
    return join(this.root, path);
  }

  private async link(path: string, target: string): Promise<void> {
    await symlink(relative(join(this.root, path, '..'), this.at(target)), this.at(path));
  }

  async registerDriver(name: string): Promise<void> {
    const dir = `bus/pci/drivers/${name}`;
    await mkdir(this.at(dir), { recursive: true });
    for (const file of ['bind', 'unbind', 'new_id']) await writeFile(this.at(`${dir}/${file}`), '');
  }

  private async addDevice(address: string, device: string, files: Record<string, string>, iommu: boolean): Promise<string> {
    const dir = `${ROOT_PORT}/${address}`;
    await mkdir(this.at(dir));
    for (const [name, text] of Object.entries({ vendor: '0x8086\n', device: `${device}\n`, class: '0x020000\n', driver_override: '(null)\n', ...files })) {
      await writeFile(this.at(`${dir}/${name}`), text);
    }
    await this.link(`bus/pci/devices/${address}`, dir);
    if (iommu) {
      const group = `kernel/iommu_groups/${this.nextIommuGroup++}`;
      await mkdir(this.at(`${group}/devices`), { recursive: true });
      await this.link(`${group}/devices/${address}`, dir);
      await this.link(`${dir}/iommu_group`, group);
    }
    return dir;
  }

  async addPf(spec: FakePfSpec): Promise<void> {
    const full: Required<FakePfSpec> = { numVfs: 0, driver: 'igb', vfDriver: 'igbvf', offset: 128, stride: 2, iommu: true, ...spec };
    await this.addDevice(full.address, '0x10c9', {
      sriov_totalvfs: `${full.totalVfs}\n`, sriov_numvfs: '0\n', sriov_offset: `${full.offset}\n`, sriov_stride: `${full.stride}\n`,
      sriov_vf_device: '10ca\n', sriov_drivers_autoprobe: '1\n',
    }, full.iommu);
    this.pfs.set(full.address, { spec: full, numVfs: 0, autoprobe: true, vfAddresses: [] });
    await this.bind(full.address, full.driver);
    this.netlink.addPf(full.address, full.netdev);
    if (full.numVfs > 0) await this.setNumVfs(full.address, full.numVfs);
  }

  private async addNetdev(address: string, name: string): Promise<void> {
    const dir = `${ROOT_PORT}/${address}/net/${name}`;
    await mkdir(this.at(dir), { recursive: true });
    await writeFile(this.at(`${dir}/flags`), '0x1003\n');
    await writeFile(this.at(`${dir}/operstate`), 'up\n');
    await writeFile(this.at(`${dir}/carrier`), '1\n');
    // The kernel's form: up to the parent bus directory and down again, not "../..".
    await symlink(`../../../${address}`, this.at(`${dir}/device`));
    await this.link(`class/net/${name}`, dir);
  }

  private async removeNetdevs(address: string): Promise<void> {
    const dir = this.at(`${ROOT_PORT}/${address}/net`);
    for (const name of await readdir(dir).catch(() => [])) await unlink(this.at(`class/net/${name}`));
    await rm(dir, { recursive: true, force: true });
  }

  /** The VF netdev name a udev-less kernel would give (unique per VF). */
  private vfNetdev(address: string): string {
    const pf = this.pfs.get(this.owners.get(address) ?? '');
    return `${pf?.spec.netdev ?? 'eth'}v${pf?.vfAddresses.indexOf(address) ?? 0}`;
  }

  private async bind(address: string, driver: string): Promise<void> {
    const dir = `${ROOT_PORT}/${address}`;
    await this.link(`${dir}/driver`, `bus/pci/drivers/${driver}`);
    await this.link(`bus/pci/drivers/${driver}/${address}`, dir);
    if (NET_DRIVERS.has(driver)) await this.addNetdev(address, this.pfs.has(address) ? this.pfs.get(address)?.spec.netdev ?? '' : this.vfNetdev(address));
  }

  private async unbind(address: string, path: string): Promise<void> {
    const driver = await this.boundDriver(address);
    if (driver === undefined) throw kernelError('ENODEV', path);
    await this.removeNetdevs(address);
    await unlink(this.at(`${ROOT_PORT}/${address}/driver`));
    await unlink(this.at(`bus/pci/drivers/${driver}/${address}`));
  }

  async boundDriver(address: string): Promise<string | undefined> {
    const target = await readlink(this.at(`${ROOT_PORT}/${address}/driver`)).catch(() => undefined);
    return target?.split('/').pop();
  }

  private async probe(address: string): Promise<void> {
    if ((await this.boundDriver(address)) !== undefined) return;
    const override = (await readFile(this.at(`${ROOT_PORT}/${address}/driver_override`), 'utf8')).trim();
    const pf = this.pfs.get(this.owners.get(address) ?? '');
    const hasOverride = override !== '(null)';
    // pci_device_can_probe(): a VF of a PF with autoprobe off binds only through driver_override.
    if (pf !== undefined && !pf.autoprobe && !hasOverride) return;
    const driver = hasOverride ? override : pf?.spec.vfDriver;
    if (driver === undefined || !(await readdir(this.at('bus/pci/drivers'))).includes(driver)) return;
    if (driver === 'vfio-pci' && (await readlink(this.at(`${ROOT_PORT}/${address}/iommu_group`)).catch(() => undefined)) === undefined) return;
    await this.bind(address, driver);
  }

  private async setNumVfs(pfAddress: string, count: number): Promise<void> {
    const pf = this.pfs.get(pfAddress);
    if (pf === undefined) throw new Error(`no fake PF ${pfAddress}`);
    for (const [index, address] of pf.vfAddresses.entries()) {
      if ((await this.boundDriver(address)) !== undefined) await this.unbind(address, 'numvfs');
      await unlink(this.at(`${ROOT_PORT}/${pfAddress}/virtfn${index}`));
      await unlink(this.at(`bus/pci/devices/${address}`));
      await rm(this.at(`${ROOT_PORT}/${address}`), { recursive: true });
      this.owners.delete(address);
    }
    pf.vfAddresses.length = 0;
    for (let index = 0; index < count; index++) {
      const address = vfAddress(pfAddress, pf.spec.offset, pf.spec.stride, index);
      const dir = await this.addDevice(address, '0x10ca', {}, pf.spec.iommu);
      await this.link(`${dir}/physfn`, `${ROOT_PORT}/${pfAddress}`);
      await this.link(`${ROOT_PORT}/${pfAddress}/virtfn${index}`, dir);
      pf.vfAddresses.push(address);
      this.owners.set(address, pfAddress);
      await this.probe(address);
    }
    pf.numVfs = count;
    await writeFile(this.at(`${ROOT_PORT}/${pfAddress}/sriov_numvfs`), `${count}\n`);
    this.netlink.resetVfs(pfAddress, count);
  }

  /** sriov_numvfs_store() in drivers/pci/iov.c. */
  private async writeNumVfs(pfAddress: string, text: string, path: string): Promise<void> {
    const pf = this.pfs.get(pfAddress);
    const count = Number(text.trim());
    if (pf === undefined || !/^\d+$/.test(text.trim())) throw kernelError('EINVAL', path);
    if (count > pf.spec.totalVfs) throw kernelError('ERANGE', path);
    if (count === pf.numVfs) return;
    if ((await this.boundDriver(pfAddress)) === undefined) throw kernelError('ENOENT', path);
    if (count !== 0 && pf.numVfs !== 0) throw kernelError('EBUSY', path);
    await this.setNumVfs(pfAddress, count);
  }

  // ---- SysfsIo ----

  async readText(path: string): Promise<string | undefined> {
    // The kernel refuses to read carrier (EINVAL) while the device is administratively down.
    if (path.endsWith('/carrier')) {
      const flags = await readFile(join(path, '..', 'flags'), 'utf8').catch(() => undefined);
      if (flags !== undefined && (Number.parseInt(flags, 16) & 0x1) === 0) throw kernelError('EINVAL', path);
    }
    return readFile(path, 'utf8').catch(() => undefined);
  }

  /** Plays `ip link set PF down|up` and a cable pulled or plugged: flags, operstate and carrier as the kernel shows them. */
  async setPfLink(pfAddress: string, link: { readonly adminUp: boolean; readonly carrier: boolean }): Promise<void> {
    const netdev = this.pfs.get(pfAddress)?.spec.netdev;
    if (netdev === undefined) throw new Error(`no fake PF ${pfAddress}`);
    const dir = `${ROOT_PORT}/${pfAddress}/net/${netdev}`;
    await writeFile(this.at(`${dir}/flags`), link.adminUp ? '0x1003\n' : '0x1002\n');
    await writeFile(this.at(`${dir}/operstate`), link.adminUp && link.carrier ? 'up\n' : 'down\n');
    await writeFile(this.at(`${dir}/carrier`), link.carrier ? '1\n' : '0\n');
  }

  readLink(path: string): Promise<string | undefined> {
    return readlink(path).catch(() => undefined);
  }

  async list(path: string): Promise<string[]> {
    return readdir(path).catch(() => []);
  }

  async write(path: string, text: string): Promise<void> {
    const inside = relative(this.root, path);
    this.writes.push([inside, text]);
    const device = /^bus\/pci\/devices\/([^/]+)\/(.+)$/.exec(inside);
    if (inside === 'bus/pci/drivers_probe') return this.probe(text.trim());
    const driverFile = /^bus\/pci\/drivers\/([^/]+)\/(unbind|bind)$/.exec(inside);
    if (driverFile !== null) return driverFile[2] === 'unbind' ? this.unbind(text.trim(), path) : this.bind(text.trim(), driverFile[1] ?? '');
    if (device === null) throw kernelError('EACCES', path);
    const [, address = '', file = ''] = device;
    switch (file) {
      case 'sriov_numvfs': return this.writeNumVfs(address, text, path);
      case 'driver_override': return writeFile(path, text.trim() === '' ? '(null)\n' : `${text.trim()}\n`);
      case 'driver/unbind': return this.unbind(text.trim() === address ? address : '', path);
      case 'sriov_drivers_autoprobe': {
        const pf = this.pfs.get(address);
        if (pf === undefined) throw kernelError('EACCES', path);
        pf.autoprobe = text.trim() !== '0';
        return writeFile(path, `${pf.autoprobe ? 1 : 0}\n`);
      }
      default: throw kernelError('EACCES', path);
    }
  }

  /** A VF address of a fake PF, by index. */
  vf(pfAddress: string, index: number): string {
    const address = this.pfs.get(pfAddress)?.vfAddresses[index];
    if (address === undefined) throw new Error(`no VF ${index} on fake PF ${pfAddress}`);
    return address;
  }

  /** Plays an operator or a driver reload: VFs destroyed and made again (their config wiped). */
  async recreateVfs(pfAddress: string, count: number): Promise<void> {
    await this.setNumVfs(pfAddress, 0);
    await this.setNumVfs(pfAddress, count);
  }
}
