// The PCI side of SR-IOV in sysfs: PFs, their VFs (virtfnN links), VF
// drivers, sriov_numvfs. Every path is under a root given by the caller
// ('/sys' in production, a fake tree in tests), and every read and write goes
// through SysfsIo so a test can play the kernel's part (EBUSY, ERANGE, probes).
import { open, readdir, readlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { PfRef } from '../../model/sriov/config.js';
import { parsePciAddress } from '../../model/sriov/pci.js';
import type { PciAddress } from '../../model/sriov/pci.js';
import { SriovSysfsError, errnoName } from './errors.js';
import type { VfLocation } from './errors.js';

/** The file operations sysfs needs; a missing path reads as undefined (or no entries), never an error. */
export interface SysfsIo {
  readText(path: string): Promise<string | undefined>;
  readLink(path: string): Promise<string | undefined>;
  list(path: string): Promise<string[]>;
  /** One write(2) of `text`; a kernel refusal surfaces as an error with `code` (EBUSY, ERANGE...). */
  write(path: string, text: string): Promise<void>;
}

const isMissing = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};
const missingAs = <T>(fallback: T) => (error: unknown): T => {
  if (isMissing(error)) return fallback;
  throw error;
};

/** One page: a sysfs attribute never holds more. */
const PAGE = 4096;

/**
 * A small file's text: open, read until a short read, close. A sysfs
 * attribute comes whole from the first read; readFile would also fstat it
 * and read again for the end, two more trips through libuv's thread pool for
 * each of the VF states a plug reads (bench/sriov.bench.ts measured them).
 */
async function readSmallText(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const { bytesRead, buffer } = await file.read(Buffer.alloc(PAGE), 0, PAGE, null);
      chunks.push(buffer.subarray(0, bytesRead));
      if (bytesRead < PAGE) return Buffer.concat(chunks).toString('utf8');
    }
  } finally {
    await file.close();
  }
}

export const nodeSysfsIo: SysfsIo = {
  readText: (path) => readSmallText(path).catch(missingAs(undefined)),
  readLink: (path) => readlink(path).catch(missingAs(undefined)),
  list: (path) => readdir(path).catch(missingAs([])),
  write: (path, text) => writeFile(path, text, { flag: 'w' }),
};

export interface VfDevice {
  readonly index: number;
  readonly address: PciAddress;
  /** The bound driver's name (igbvf, vfio-pci...), undefined when unbound. */
  readonly driver?: string;
  /** driver_override, undefined when "(null)". */
  readonly driverOverride?: string;
  /** Netdevs of the VF: present only while a host net driver has it. */
  readonly netdevs: readonly string[];
}

/** Which VF: enough for the binding steps, which read its current state themselves. */
export type VfRef = Pick<VfDevice, 'index' | 'address'>;

export interface PfDevice {
  readonly address: PciAddress;
  readonly driver?: string;
  readonly netdevs: readonly string[];
  readonly numVfs: number;
  readonly totalVfs: number;
  readonly vfs: readonly VfDevice[];
}

const NULL_OVERRIDE = '(null)';

export class SriovSysfs {
  constructor(
    /** sysfs's mount point: '/sys' on a host. */
    readonly root: string,
    private readonly io: SysfsIo = nodeSysfsIo,
  ) {}

  private device(address: PciAddress, file = ''): string {
    return join(this.root, 'bus/pci/devices', address, file);
  }

  /** The PF's PCI address, from its netdev's `device` link or checked to exist. */
  async pfAddress(ref: PfRef): Promise<PciAddress> {
    const name = ref.kind === 'netdev' ? ref.name : ref.address;
    if (ref.kind === 'pci') {
      if ((await this.io.readText(this.device(ref.address, 'sriov_totalvfs'))) === undefined) {
        throw SriovSysfsError.at({ pf: name }, `no SR-IOV PCI device ${ref.address} (no sriov_totalvfs under ${this.device(ref.address)})`);
      }
      return ref.address;
    }
    const target = await this.io.readLink(join(this.root, 'class/net', ref.name, 'device'));
    if (target === undefined) throw SriovSysfsError.at({ pf: name }, `no network device ${ref.name} backed by a PCI device`);
    return parsePciAddress(basename(target), `${ref.name} device link`);
  }

  private async integer(at: VfLocation, path: string): Promise<number> {
    const text = (await this.io.readText(path))?.trim();
    if (text === undefined || !/^\d+$/.test(text)) throw SriovSysfsError.at({ ...at, attribute: basename(path) }, `${path} reads ${JSON.stringify(text ?? null)}, not a count`);
    return Number(text);
  }

  private async driverOf(address: PciAddress): Promise<string | undefined> {
    const link = await this.io.readLink(this.device(address, 'driver'));
    return link === undefined ? undefined : basename(link);
  }

  async readVf(address: PciAddress, index: number): Promise<VfDevice> {
    const override = (await this.io.readText(this.device(address, 'driver_override')))?.trim();
    const driver = await this.driverOf(address);
    return {
      index,
      address,
      ...(driver === undefined ? {} : { driver }),
      ...(override === undefined || override === NULL_OVERRIDE || override === '' ? {} : { driverOverride: override }),
      netdevs: (await this.io.list(this.device(address, 'net'))).sort(),
    };
  }

  /** The PF and each enabled VF, by index (virtfnN -> ../<VF address>, a relative link). */
  async readPf(address: PciAddress): Promise<PfDevice> {
    const at = { pf: address };
    const totalVfs = await this.integer(at, this.device(address, 'sriov_totalvfs'));
    const numVfs = await this.integer(at, this.device(address, 'sriov_numvfs'));
    const entries = await this.io.list(this.device(address));
    const indexes = entries.flatMap((entry) => /^virtfn(\d+)$/.exec(entry)?.[1] ?? []).map(Number).sort((a, b) => a - b);
    const vfs: VfDevice[] = [];
    for (const index of indexes) {
      const link = await this.io.readLink(this.device(address, `virtfn${index}`));
      if (link === undefined) continue; // removed while listing (numvfs went to 0)
      vfs.push(await this.readVf(parsePciAddress(basename(link), `${address} virtfn${index}`), index));
    }
    const driver = await this.driverOf(address);
    return { address, ...(driver === undefined ? {} : { driver }), netdevs: (await this.io.list(this.device(address, 'net'))).sort(), numVfs, totalVfs, vfs };
  }

  /** The PF of a VF (its physfn link), or undefined when `address` is not a VF. */
  async physfn(address: PciAddress): Promise<PciAddress | undefined> {
    const link = await this.io.readLink(this.device(address, 'physfn'));
    return link === undefined ? undefined : parsePciAddress(basename(link), `${address} physfn`);
  }

  /**
   * Enables `count` VFs. Only from 0: changing a non-zero count destroys every
   * VF and with them their MAC, VLAN and trust settings (and any guest's VF).
   */
  async enableVfs(pf: PciAddress, count: number): Promise<void> {
    const at = { pf, attribute: 'sriov_numvfs' };
    const current = await this.integer(at, this.device(pf, 'sriov_numvfs'));
    if (current === count) return;
    if (current !== 0) {
      throw SriovSysfsError.at(at, `has ${current} VFs, ${count} wanted: vifd changes sriov_numvfs only from 0 (re-creating VFs wipes their config)`);
    }
    const total = await this.integer(at, this.device(pf, 'sriov_totalvfs'));
    if (count > total) throw SriovSysfsError.at(at, `${count} VFs wanted, the device has at most ${total} (sriov_totalvfs)`);
    await this.write(at, this.device(pf, 'sriov_numvfs'), String(count));
  }

  private async write(at: VfLocation, path: string, text: string): Promise<void> {
    try {
      await this.io.write(path, text);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      const name = typeof code === 'string' ? code : errnoName(Number(code));
      throw SriovSysfsError.at(at, `writing ${JSON.stringify(text.trim())} to ${path} failed: ${name}`, { cause: error });
    }
  }

  /**
   * Binds a VF to `driver` the race-free way: driver_override, unbind from the
   * current driver, drivers_probe (new_id would grab every device with that
   * id). Repeat-safe: a VF already on `driver` is left alone. It reads the
   * VF's state itself, before and after: a caller need not read it first.
   */
  async bindVf(pf: PciAddress, vf: VfRef, driver: string): Promise<VfDevice> {
    const at = { pf, vf: vf.index, attribute: 'driver' };
    const now = await this.readVf(vf.address, vf.index);
    if (now.driver === driver && now.driverOverride === driver) return now;
    await this.write(at, this.device(vf.address, 'driver_override'), `${driver}\n`);
    if (now.driver !== undefined && now.driver !== driver) await this.write(at, this.device(vf.address, 'driver/unbind'), vf.address);
    if (now.driver !== driver) await this.write(at, join(this.root, 'bus/pci/drivers_probe'), vf.address);
    const after = await this.readVf(vf.address, vf.index);
    if (after.driver !== driver) {
      throw SriovSysfsError.at(at, `${vf.address} is ${after.driver === undefined ? 'unbound' : `bound to ${after.driver}`} after probing for ${driver} (is the driver loaded, is there an IOMMU group?)`);
    }
    return after;
  }

  /**
   * Puts a VF back on the driver it had (or none) with its old driver_override.
   * A VF that had no driver is unbound and left so.
   */
  async restoreVfDriver(pf: PciAddress, vf: VfRef, original: { readonly driver?: string; readonly driverOverride?: string }): Promise<VfDevice> {
    const at = { pf, vf: vf.index, attribute: 'driver' };
    if (original.driver !== undefined) await this.bindVf(pf, vf, original.driver);
    else {
      const now = await this.readVf(vf.address, vf.index);
      if (now.driver !== undefined) await this.write(at, this.device(vf.address, 'driver/unbind'), vf.address);
    }
    // "\n" clears driver_override (the kernel stores an empty string as none).
    await this.write(at, this.device(vf.address, 'driver_override'), `${original.driverOverride ?? ''}\n`);
    return this.readVf(vf.address, vf.index);
  }

  /**
   * The PF netdev's operstate and carrier. The kernel refuses to read carrier
   * (EINVAL) while the device is administratively down: that reads as null.
   */
  async pfLink(pf: PciAddress, netdev: string): Promise<{ readonly operstate: string; readonly carrier: boolean | null }> {
    const dir = this.device(pf, `net/${netdev}`);
    const operstate = (await this.io.readText(join(dir, 'operstate')))?.trim();
    if (operstate === undefined) throw SriovSysfsError.at({ pf: netdev, attribute: 'operstate' }, `no network device ${netdev} under ${this.device(pf)}`);
    let carrier: string | undefined;
    try {
      carrier = (await this.io.readText(join(dir, 'carrier')))?.trim();
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code !== 'EINVAL') throw error;
    }
    return { operstate, carrier: carrier === '1' ? true : carrier === '0' ? false : null };
  }

  /** Is the PF's netdev up? VF changes on a PF that is down are accepted and silently not applied. */
  async pfNetdevUp(pf: PciAddress, netdev: string): Promise<boolean> {
    const flags = (await this.io.readText(this.device(pf, `net/${netdev}/flags`)))?.trim();
    return flags !== undefined && (Number.parseInt(flags, 16) & 0x1) !== 0;
  }
}
