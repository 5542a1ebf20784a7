// The SR-IOV bench's guest operations (bench/sriov.bench.ts): one VF assign +
// release cycle down one of three paths per request, timed INSIDE the guest so
// the virtio-serial round trip is not in the figures:
//   vifdCycle     SriovNetworkPool.assign / release, vifd's real code; its sysfs
//                 and rtnetlink are wrapped only to time each kind of step
//   libvirtCycle  the steps libvirt takes for <interface type='hostdev'
//                 managed='yes'> (virhostdev.c, virnetdev.c, virpci.c), replayed
//                 with the same kernel interfaces (libvirt itself does not run)
//   floorCycle    the kernel writes alone: both driver rebinds and one
//                 RTM_SETLINK each way carrying every attribute, nothing read
// Every cycle leaves its VF as it found it; each path's end state is checked
// after each phase, outside the timed part.
import { mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KernelVfNetlink } from '../../../src/host/sriov/netlink.js';
import type { VfNetlink } from '../../../src/host/sriov/netlink.js';
import { SriovNetworkPool } from '../../../src/host/sriov/network-pool.js';
import type { VifOwner } from '../../../src/host/sriov/network-pool-types.js';
import { encodeSetVfAttributes } from '../../../src/host/sriov/rtnetlink-codec.js';
import { RtnetlinkSocket } from '../../../src/host/sriov/rtnetlink-socket.js';
import { VfSnapshotStore } from '../../../src/host/sriov/snapshots.js';
import { SriovSysfs, nodeSysfsIo } from '../../../src/host/sriov/sysfs.js';
import type { SysfsIo } from '../../../src/host/sriov/sysfs.js';
import { parseSriovConfig } from '../../../src/model/sriov/config.js';
import type { VfAttribute, VfNetConfig } from '../../../src/model/sriov/vf-settings.js';

/** One path's cycle: wall time of each phase inside the guest and where it went (ms by part). */
export interface CycleTiming {
  readonly assignMs: number;
  readonly releaseMs: number;
  readonly parts: Readonly<Record<string, number>>;
  /** How many steps of each part. */
  readonly counts: Readonly<Record<string, number>>;
}

/** The VF a cycle works on, and what it is set to while "assigned". */
interface Target {
  readonly pf: string;
  readonly vf: number;
  readonly address: string;
  readonly mac: string;
  readonly vlan: number;
  readonly maxTxRate: number;
}

type Args = Record<string, unknown>;
const PCI = '/sys/bus/pci';
const STUB = 'vfio-pci';
const BENCH_STATE = '/run/vifd-bench';

function target(args: Args): Target {
  const { pf, vf, address, mac, vlan, maxTxRate } = args;
  if (typeof pf !== 'string' || typeof address !== 'string' || typeof mac !== 'string') throw new TypeError(`bench target needs pf, address, mac: ${JSON.stringify(args)}`);
  if (typeof vf !== 'number' || typeof vlan !== 'number' || typeof maxTxRate !== 'number') throw new TypeError(`bench target needs vf, vlan, maxTxRate: ${JSON.stringify(args)}`);
  return { pf, vf, address, mac, vlan, maxTxRate };
}

/** Milliseconds by part, for the phase being timed. */
class Meter {
  private parts = new Map<string, number>();
  private counts = new Map<string, number>();
  private phase = '';

  start(phase: string): void {
    this.phase = phase;
  }

  async time<T>(part: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const key = `${this.phase}_${part}`;
      this.parts.set(key, (this.parts.get(key) ?? 0) + performance.now() - started);
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
  }

  take(): { parts: Record<string, number>; counts: Record<string, number> } {
    const out = { parts: Object.fromEntries(this.parts), counts: Object.fromEntries(this.counts) };
    this.parts = new Map();
    this.counts = new Map();
    return out;
  }
}

/** vifd's rtnetlink, timed: a GETLINK right after a SETLINK is that attribute's read back. */
class MeteredNetlink implements VfNetlink {
  private afterSet = false;

  constructor(private readonly inner: VfNetlink, private readonly meter: Meter) {}

  getLink(...args: Parameters<VfNetlink['getLink']>): ReturnType<VfNetlink['getLink']> {
    const part = this.afterSet ? 'readback' : 'getlink';
    this.afterSet = false;
    return this.meter.time(part, () => this.inner.getLink(...args));
  }

  async setVf(...args: Parameters<VfNetlink['setVf']>): Promise<void> {
    this.afterSet = false;
    await this.meter.time('setlink', () => this.inner.setVf(...args));
    this.afterSet = true;
  }

  close(): void {
    this.inner.close();
  }
}

/** vifd's restore snapshots, timed (the file is written, fsynced and renamed before the VF is touched). */
class MeteredSnapshots extends VfSnapshotStore {
  constructor(dir: string, private readonly meter: Meter) {
    super(dir);
  }

  override write(...args: Parameters<VfSnapshotStore['write']>): ReturnType<VfSnapshotStore['write']> {
    return this.meter.time('snapshot', () => super.write(...args));
  }

  override read(...args: Parameters<VfSnapshotStore['read']>): ReturnType<VfSnapshotStore['read']> {
    return this.meter.time('snapshot', () => super.read(...args));
  }

  override remove(...args: Parameters<VfSnapshotStore['remove']>): ReturnType<VfSnapshotStore['remove']> {
    return this.meter.time('snapshot', () => super.remove(...args));
  }
}

const meteredSysfsIo = (meter: Meter): SysfsIo => ({
  readText: (path) => meter.time('sysfs_read', () => nodeSysfsIo.readText(path)),
  readLink: (path) => meter.time('sysfs_read', () => nodeSysfsIo.readLink(path)),
  list: (path) => meter.time('sysfs_read', () => nodeSysfsIo.list(path)),
  write: (path, text) => meter.time('sysfs_write', () => nodeSysfsIo.write(path, text)),
});

const device = (address: string, file: string): string => join(PCI, 'devices', address, file);
const driverOf = async (address: string): Promise<string | undefined> =>
  readlink(device(address, 'driver')).then((link) => link.split('/').pop(), () => undefined);
const listOrNone = (path: string): Promise<string[]> => readdir(path).catch(() => []);
/** One write(2) of `text`, as libvirt's virFileWriteStr and `echo >` do. */
const sysfsWrite = (path: string, text: string): Promise<void> => writeFile(path, text, { flag: 'w' });

export class BenchOperations {
  private readonly netlink = KernelVfNetlink.open();
  private readonly socket = RtnetlinkSocket.open();
  private readonly meter = new Meter();
  private readonly pools = new Map<string, SriovNetworkPool>();
  private readonly ifindexes = new Map<string, number>();
  private readonly owner: VifOwner = { vmUuid: '5d0b8a9e-2f43-4c1e-9b7a-3e6f1d2c4b5a', vifIndex: 0 };

  private readonly table: Record<string, (args: Args) => Promise<unknown>> = {
    vifdCycle: (args) => this.vifdCycle(target(args)),
    libvirtCycle: (args) => this.libvirtCycle(target(args)),
    floorCycle: (args) => this.floorCycle(target(args)),
  };

  handles(op: string): boolean {
    return Object.hasOwn(this.table, op);
  }

  call(op: string, args: Args): Promise<unknown> {
    const operation = this.table[op];
    if (operation === undefined) throw new Error(`unknown bench operation ${op}`);
    return operation(args);
  }

  close(): void {
    this.netlink.close();
    this.socket.close();
  }

  private async vfConfig(t: Target): Promise<VfNetConfig> {
    const vf = (await this.netlink.getLink({ ifname: t.pf })).vfs.find((candidate) => candidate.index === t.vf);
    if (vf === undefined) throw new Error(`the PF driver reports no VF ${t.vf}`);
    return vf;
  }

  /** The end state of a phase, checked untimed: the driver, and the MAC and VLAN when given. */
  private async expect(path: string, t: Target, driver: string, config: { mac?: string; vlan: number }): Promise<void> {
    const [bound, seen] = [await driverOf(t.address), await this.vfConfig(t)];
    if (bound !== driver || seen.vlan !== config.vlan || (config.mac !== undefined && seen.mac !== config.mac)) {
      throw new Error(`${path}: VF ${t.vf} is on ${String(bound)} with mac ${seen.mac} vlan ${seen.vlan}; wanted ${driver}, mac ${config.mac ?? 'any'}, vlan ${config.vlan}`);
    }
  }

  /** Runs assign then release, each timed as a whole, each checked after. */
  private async cycle(path: string, assign: () => Promise<void>, checkAssigned: () => Promise<void>, release: () => Promise<void>, checkReleased: () => Promise<void>): Promise<CycleTiming> {
    this.meter.take();
    this.meter.start('assign');
    let started = performance.now();
    await assign();
    const assignMs = performance.now() - started;
    await checkAssigned();
    this.meter.start('release');
    started = performance.now();
    await release();
    const releaseMs = performance.now() - started;
    await checkReleased();
    return { assignMs, releaseMs, ...this.meter.take() };
  }

  /** The network pool of vifd's path: one network holding just this VF, scanned once (the daemon scans at start, not per plug). */
  private async pool(t: Target): Promise<SriovNetworkPool> {
    const key = `${t.pf}/${t.vf}`;
    const known = this.pools.get(key);
    if (known !== undefined) return known;
    const others = Array.from({ length: 64 }, (_, index) => index).filter((index) => index !== t.vf);
    const config = parseSriovConfig({ pfs: [t.pf], exclude: others, max_tx_rate: t.maxTxRate }, { mode: 'access', tag: t.vlan }, 'networks.bench');
    const pool = new SriovNetworkPool({
      network: 'bench', config, sysfs: new SriovSysfs('/sys', meteredSysfsIo(this.meter)), netlink: new MeteredNetlink(this.netlink, this.meter),
      snapshots: new MeteredSnapshots(join(BENCH_STATE, 'vifd', key.replace('/', '-')), this.meter),
    });
    await pool.scan();
    this.pools.set(key, pool);
    return pool;
  }

  private async vifdCycle(t: Target): Promise<CycleTiming> {
    const pool = await this.pool(t);
    const before = await this.vfConfig(t);
    const driver = await driverOf(t.address) ?? 'none';
    return this.cycle('vifd', async () => {
      await pool.assign(this.owner, { mac: t.mac });
      pool.markAttached(this.owner);
    }, () => this.expect('vifd assign', t, STUB, { mac: t.mac, vlan: t.vlan }), async () => {
      const state = await pool.release(this.owner, 'vm-stopped');
      if (state?.kind !== 'free') throw new Error(`vifd release left VF ${t.vf} ${JSON.stringify(state)}`);
    }, () => this.expect('vifd release', t, driver, { mac: before.mac, vlan: before.vlan }));
  }

  /** The PF's ifindex, looked up once (untimed): libvirt names the PF in each request, vifd caches its index. */
  private async ifindex(pf: string): Promise<number> {
    const known = this.ifindexes.get(pf);
    if (known !== undefined) return known;
    const ifindex = (await this.netlink.getLink({ ifname: pf })).ifindex;
    this.ifindexes.set(pf, ifindex);
    return ifindex;
  }

  /** One RTM_SETLINK carrying `values` in one IFLA_VF_INFO, acked. */
  private async setlink(t: Target, values: readonly VfAttribute[]): Promise<void> {
    const ifindex = await this.ifindex(t.pf);
    const seq = this.socket.nextSeq();
    const answer = await this.socket.request(encodeSetVfAttributes(seq, ifindex, t.vf, values), seq);
    if (answer.kind !== 'ack') throw new Error(`RTM_SETLINK VF ${t.vf} ${values.map((value) => value.kind).join('+')}: ${JSON.stringify(answer)}`);
  }

  /**
   * libvirt resolves PF + VF index from the VF's PCI address at each step
   * (virHostdevNetDevice: physfn link, the PF's virtfnN links, the PF's netdev).
   */
  private async libvirtResolve(t: Target): Promise<void> {
    await this.meter.time('sysfs', async () => {
      const pf = (await readlink(device(t.address, 'physfn'))).split('/').pop() ?? '';
      for (const entry of (await readdir(join(PCI, 'devices', pf))).filter((name) => name.startsWith('virtfn'))) {
        if ((await readlink(device(pf, entry))).endsWith(t.address)) break;
      }
      await readdir(device(pf, 'net'));
    });
  }

  /** virNetDevSetVfConfig: one RTM_SETLINK for the admin MAC, one for the VLAN (libvirt >= 7; older libvirt sent both in one). */
  private async libvirtSetVfConfig(t: Target, mac: string, vlan: number): Promise<void> {
    await this.meter.time('sysfs', () => listOrNone(device(t.address, 'net'))); // virNetDevPFGetVF
    await this.meter.time('setlink', () => this.setlink(t, [{ kind: 'mac', mac }]));
    await this.meter.time('setlink', () => this.setlink(t, [{ kind: 'vlan', vlan, qos: 0, protocol: '802.1Q' }]));
  }

  /** virPCIDeviceBindWithDriverOverride: driver_override, unbind if bound (virPCIDeviceUnbind checks), drivers_probe. */
  private async libvirtBind(t: Target, override: string): Promise<void> {
    await this.meter.time('sysfs', async () => {
      await sysfsWrite(device(t.address, 'driver_override'), override);
      if (await driverOf(t.address) !== undefined) await sysfsWrite(device(t.address, 'driver/unbind'), t.address);
      await sysfsWrite(join(PCI, 'drivers_probe'), t.address);
    });
  }

  /** virHostdevPreparePCIDevicesImpl steps 1.5, 2, 3, 4 for one VF. */
  private async libvirtPrepare(t: Target, stateFile: string): Promise<void> {
    await this.libvirtResolve(t); // virHostdevSaveNetConfig
    const vfNet = await this.meter.time('sysfs', async () => {
      await readFile(`/sys/class/net/${t.pf}/flags`, 'utf8'); // the PF must be online
      return listOrNone(device(t.address, 'net')); // virNetDevPFGetVF
    });
    const saved = await this.meter.time('getlink', () => this.vfConfig(t)); // virNetDevGetVfConfig
    const live = vfNet[0] === undefined ? undefined : await this.meter.time('sysfs', () => readFile(`/sys/class/net/${vfNet[0] ?? ''}/address`, 'utf8'));
    await this.meter.time('state_file', async () => {
      await mkdir(join(stateFile, '..'), { recursive: true });
      await writeFile(stateFile, JSON.stringify({ ...(live === undefined ? {} : { mac: live.trim() }), vlanTag: saved.vlan, adminMac: saved.mac }), { mode: 0o600 });
    });
    await this.meter.time('sysfs', async () => { // virPCIDeviceDetach: the stub's driver folder, then is it bound already?
      await readdir(join(PCI, 'drivers', STUB));
      await driverOf(t.address);
    });
    await this.libvirtBind(t, STUB);
    await this.meter.time('sysfs', () => driverOf(t.address)); // virPCIDeviceReset: bound to vfio-pci, skipped
    await this.libvirtResolve(t); // virHostdevSetNetConfig
    await this.libvirtSetVfConfig(t, t.mac, t.vlan);
  }

  /** virHostdevReAttachPCIDevicesImpl steps 3, 4, 5: restore MAC + VLAN from the file, then back to the host driver. */
  private async libvirtReattach(t: Target, stateFile: string): Promise<void> {
    await this.libvirtResolve(t); // virHostdevRestoreNetConfig
    const saved = await this.meter.time('state_file', async () => {
      await listOrNone(device(t.address, 'net'));
      const text = await readFile(stateFile, 'utf8');
      await rm(stateFile);
      return JSON.parse(text) as { mac?: string; adminMac: string; vlanTag: number };
    });
    // A saved live MAC becomes the admin MAC: the VF is still on vfio-pci, its own MAC cannot be set.
    await this.libvirtSetVfConfig(t, saved.mac ?? saved.adminMac, saved.vlanTag);
    await this.meter.time('sysfs', () => driverOf(t.address)); // virPCIDeviceReset: still vfio-pci, skipped
    await this.libvirtBind(t, '\n');
  }

  private async libvirtCycle(t: Target): Promise<CycleTiming> {
    const stateFile = join(BENCH_STATE, 'libvirt/hostdevmgr', `${t.pf}_vf${t.vf}`);
    const driver = await driverOf(t.address) ?? 'none';
    const vlan = (await this.vfConfig(t)).vlan;
    await this.ifindex(t.pf);
    return this.cycle('libvirt', () => this.libvirtPrepare(t, stateFile), () => this.expect('libvirt assign', t, STUB, { mac: t.mac, vlan: t.vlan }),
      () => this.libvirtReattach(t, stateFile), () => this.expect('libvirt release', t, driver, { vlan }));
  }

  private async floorBind(t: Target, override: string): Promise<void> {
    await this.meter.time('sysfs', async () => {
      await sysfsWrite(device(t.address, 'driver_override'), override);
      await sysfsWrite(device(t.address, 'driver/unbind'), t.address);
      await sysfsWrite(join(PCI, 'drivers_probe'), t.address);
    });
  }

  private async floorCycle(t: Target): Promise<CycleTiming> {
    const before = await this.vfConfig(t);
    const driver = await driverOf(t.address) ?? 'none';
    await this.ifindex(t.pf);
    const send = (values: VfAttribute[]): Promise<void> => this.meter.time('setlink', () => this.setlink(t, values));
    const settings = (mac: string, vlan: number, spoofchk: boolean, trust: boolean, maxTxRate: number): VfAttribute[] => [
      { kind: 'mac', mac }, { kind: 'vlan', vlan, qos: 0, protocol: '802.1Q' }, { kind: 'spoofchk', on: spoofchk },
      { kind: 'trust', on: trust }, { kind: 'rate', minTxRate: 0, maxTxRate },
    ];
    return this.cycle('floor', async () => {
      await this.floorBind(t, STUB);
      await send(settings(t.mac, t.vlan, true, false, t.maxTxRate));
    }, () => this.expect('floor assign', t, STUB, { mac: t.mac, vlan: t.vlan }), async () => {
      // The driver first, as vifd does: leaving vfio-pci resets the VF, and igb gives a VF with no admin MAC a random one.
      await this.floorBind(t, '\n');
      await send(settings(before.mac, before.vlan, before.spoofchk ?? true, before.trust ?? false, before.maxTxRate ?? 0));
    }, () => this.expect('floor release', t, driver, { mac: before.mac, vlan: before.vlan }));
  }
}
