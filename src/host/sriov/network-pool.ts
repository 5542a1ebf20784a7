// One SR-IOV network's VFs on this host: scan (sysfs + the PF driver), assign
// a VF to a VIF (claim, snapshot, bind, set + read back), release it when the
// caller says the guest no longer has it (restore + read back, or quarantine),
// and rebuild all of it after a vifd crash from the snapshots and the running
// guests. The engine's sriov-vf kind sits on top of this.
import type { SriovNetworkConfig } from '../../model/sriov/config.js';
import { isExcluded } from '../../model/sriov/config.js';
import { VfPool } from '../../model/sriov/allocator.js';
import type { PoolEntry, VfSlot } from '../../model/sriov/allocator.js';
import type { PciAddress } from '../../model/sriov/pci.js';
import type { PfLinkState, ReleaseProof, VfOwnerFacts, VfState, VifOwner } from './network-pool-types.js';
import { restoreAttributes, wantedVfAttributes } from '../../model/sriov/vf-settings.js';
import type { VfAttribute, VfAttributeKind, VfNetConfig } from '../../model/sriov/vf-settings.js';
import { SriovSysfsError } from './errors.js';
import type { VfNetlink } from './netlink.js';
import type { VfSnapshotStore } from './snapshots.js';
import type { SriovSysfs } from './sysfs.js';
import { applyVfAttributes, readVfConfig, setVfAttribute } from './vf-config.js';
import type { PfLink } from './vf-config.js';

/** States in which a VF is still its VIF's, or still being put back: a reload that takes it out of the pool must keep it until released. */
const STILL_IN_USE = new Set<VfState['kind']>(['reserved', 'attached', 'releasing', 'quarantined']);

/** Drivers that hand a VF to a guest: bound to one of these by someone else, a VF is not vifd's to take. */
const STUB_DRIVERS = new Set(['vfio-pci', 'pciback', 'xen-pciback']);

export interface SriovNetworkDeps {
  readonly network: string;
  config: SriovNetworkConfig;
  readonly sysfs: SriovSysfs;
  readonly netlink: VfNetlink;
  readonly snapshots: VfSnapshotStore;
  readonly log?: (message: string) => void;
}

export interface AssignedVf {
  readonly slot: VfSlot;
  readonly mac: string;
  readonly vlan?: number;
  readonly driver: string;
  /** Default-valued attributes the PF driver has no operation for (igb: link-state auto). */
  readonly skipped: readonly VfAttribute[];
}

export interface ScanResult {
  /** VFs that were present before and are gone now (their owners' VIFs are broken until they return). */
  readonly vanished: readonly PoolEntry[];
  /** Snapshot files that could not be read: VFs new to the pool with one are quarantined. */
  readonly unreadable: readonly string[];
}

export class SriovNetworkPool {
  readonly pool: VfPool;
  private readonly links = new Map<PciAddress, PfLink>();
  /** The network left the config (a reload): every VF is out of the pool, kept only while still in use. */
  private retiring = false;
  /** Restore snapshots being written, by VF. */
  private readonly snapshotting = new Map<PciAddress, Promise<void>>();
  /** Per PF, the default-valued attributes its driver has no operation for (found out once, not asked again). */
  private readonly unsupported = new Map<PciAddress, Set<VfAttributeKind>>();

  constructor(private readonly deps: SriovNetworkDeps) {
    this.pool = new VfPool(deps.network);
  }

  /**
   * A reload changed the network's sriov block: new assignments use the new
   * settings at once (the kind's drift repair brings attached VFs to them);
   * PFs and exclusions apply at the next scan.
   */
  reconfigure(config: SriovNetworkConfig): void {
    this.deps.config = config;
  }

  /** The network is no longer an SR-IOV network: from the next scan on no VF of it is allocatable. */
  retireAll(): void {
    this.retiring = true;
  }

  /** Each configured PF's operstate and carrier (RFC 2863: up, or unknown with carrier). */
  async pfLinks(): Promise<PfLinkState[]> {
    const links: PfLinkState[] = [];
    for (const { pf, pfName } of this.pool.counts()) {
      const { operstate, carrier } = await this.deps.sysfs.pfLink(pf, pfName);
      links.push({ pf, pfName, operstate, carrier, up: operstate === 'up' || (operstate === 'unknown' && carrier === true) });
    }
    return links;
  }

  /**
   * VFs a scan no longer puts in the pool (excluded now, their PF or the
   * network out of the config) that are still in use: kept, as retired, while
   * sysfs still has them. VFs of a PF no longer configured are found by their physfn.
   */
  private async stillInUse(listed: ReadonlySet<PciAddress>): Promise<VfSlot[]> {
    const kept: VfSlot[] = [];
    for (const entry of this.pool.list()) {
      if (listed.has(entry.slot.address) || !STILL_IN_USE.has(entry.state.kind)) continue;
      if ((await this.deps.sysfs.physfn(entry.slot.address)) === entry.slot.pf) kept.push(entry.slot);
    }
    return kept;
  }

  private log(message: string): void {
    this.deps.log?.(`sriov network ${this.deps.network}: ${message}`);
  }

  /**
   * Reads the PFs and their VFs and brings the pool up to date. `facts` says
   * which VFs running guests of vifd's have (from libvirt's live XML) and which
   * others use; VFs new to the pool start from those facts and the snapshots.
   */
  async scan(facts: VfOwnerFacts = {}): Promise<ScanResult> {
    const { sysfs, config } = this.deps;
    const pfs: { pf: PciAddress; pfName: string }[] = [];
    const slots: VfSlot[] = [];
    const drivers = new Map<PciAddress, string | undefined>();
    const listed = new Set<PciAddress>();
    for (const ref of this.retiring ? [] : config.pfs) {
      const address = await sysfs.pfAddress(ref);
      let pf = await sysfs.readPf(address);
      if (pf.numVfs === 0 && config.numVfs !== undefined) {
        await sysfs.enableVfs(address, config.numVfs);
        pf = await sysfs.readPf(address);
      }
      const pfName = pf.netdevs[0] ?? (ref.kind === 'netdev' ? ref.name : address);
      pfs.push({ pf: address, pfName });
      for (const vf of pf.vfs) {
        if (isExcluded(config.exclude, vf.index, vf.address)) continue;
        slots.push({ pf: address, pfName, index: vf.index, address: vf.address });
        listed.add(vf.address);
        drivers.set(vf.address, vf.driver);
      }
    }
    const retired = await this.stillInUse(listed);
    slots.push(...retired);
    const { snapshots, unreadable } = await this.deps.snapshots.list();
    const snapshotOwner = new Map(snapshots.map((snapshot) => [snapshot.address, snapshot.owner]));
    const broken = new Map(unreadable.map((file) => [file.file.replace(/\.json$/, ''), `unreadable restore snapshot: ${file.reason}`]));
    const foreign = (address: PciAddress): string | undefined => {
      const given = facts.foreignUse?.get(address);
      if (given !== undefined) return given;
      const driver = drivers.get(address);
      return driver !== undefined && STUB_DRIVERS.has(driver) && !snapshotOwner.has(address) ? `bound to ${driver} by something other than vifd` : undefined;
    };
    const vanished = this.pool.setInventory(pfs, slots, (slot) => {
      const runningUser = facts.runningUsers?.get(slot.address);
      const owner = snapshotOwner.get(slot.address);
      const foreignUse = foreign(slot.address);
      const unreadableSnapshot = broken.get(slot.address);
      return {
        ...(runningUser === undefined ? {} : { runningUser }), ...(owner === undefined ? {} : { snapshotOwner: owner }),
        ...(foreignUse === undefined ? {} : { foreignUse }), ...(unreadableSnapshot === undefined ? {} : { unreadableSnapshot }),
      };
    });
    this.pool.retire(new Set(retired.map((slot) => slot.address)));
    this.refreshForeign(foreign);
    this.adoptRunning(facts);
    for (const entry of vanished) this.log(`VF ${entry.slot.address} (${entry.slot.pfName} VF ${entry.slot.index}) vanished while ${entry.state.kind}`);
    const unreadableFiles = unreadable.map((file) => `${file.file}: ${file.reason}`);
    for (const text of unreadableFiles) this.log(`unreadable restore snapshot ${text}`);
    return { vanished, unreadable: unreadableFiles };
  }

  /**
   * libvirt shows a running guest of vifd's with this VF: it is that VIF's,
   * whatever a scan without that fact recovered (releasing from its snapshot,
   * foreign by its driver). A VF another VIF holds is left and logged.
   */
  private adoptRunning(facts: VfOwnerFacts): void {
    for (const [address, owner] of facts.runningUsers ?? []) {
      const entry = this.pool.get(address);
      if (entry === undefined) continue;
      const adopted = this.pool.adopt(address, owner);
      if (adopted === undefined) this.log(`VF ${address} is in a running guest of VM ${owner.vmUuid} VIF ${owner.vifIndex} but held for another VIF (${entry.state.kind})`);
    }
  }

  /** Free VFs someone else took become foreign; foreign VFs given up become free. */
  private refreshForeign(foreign: (address: PciAddress) => string | undefined): void {
    for (const entry of this.pool.list()) {
      const use = foreign(entry.slot.address);
      if (entry.state.kind === 'free' && use !== undefined) this.pool.apply(entry.slot.address, { kind: 'found-foreign', reason: use });
      else if (entry.state.kind === 'foreign' && use === undefined) this.pool.apply(entry.slot.address, { kind: 'foreign-gone' });
    }
  }

  private unsupportedOn(pf: PciAddress): Set<VfAttributeKind> {
    const known = this.unsupported.get(pf) ?? new Set<VfAttributeKind>();
    this.unsupported.set(pf, known);
    return known;
  }

  private async pfLink(slot: VfSlot): Promise<PfLink> {
    const known = this.links.get(slot.pf);
    if (known !== undefined) return known;
    const link = await this.deps.netlink.getLink({ ifname: slot.pfName });
    const pf = { ifindex: link.ifindex, name: slot.pfName };
    this.links.set(slot.pf, pf);
    return pf;
  }

  /**
   * Gives `owner` a VF set to `mac`, the network's VLAN and defaults. The VF
   * is claimed synchronously, its snapshot written before anything touches
   * it; on any failure the VF is restored and released, and the error thrown.
   */
  async assign(owner: VifOwner, options: { readonly mac: string; readonly previous?: PciAddress }): Promise<AssignedVf> {
    const held = this.pool.heldBy(owner);
    // A VF already set up for its guest (drift repair, a repeated plug) is set again; its snapshot stays the first.
    if (held?.state.kind === 'attached') {
      await this.ensureSnapshot(owner, held.slot);
      return this.configure(owner, held.slot, options.mac);
    }
    // Reserved (by the planner, or a plug that failed half-way) or claimed now: snapshot unless one exists.
    const { slot } = held ?? this.pool.claim(options.previous === undefined ? { owner } : { owner, previous: options.previous });
    try {
      await this.ensureSnapshot(owner, slot);
      return await this.configure(owner, slot, options.mac);
    } catch (error) {
      this.pool.apply(slot.address, { kind: 'release', owner, proof: 'start-failed' });
      await this.restore(slot.address);
      throw error;
    }
  }

  /**
   * The VF's restore snapshot, unless one exists (the first one stays). A VF
   * held only because libvirt reports it in a running guest (recovered at
   * start, never set up by this vifd) has none until vifd first touches it.
   */
  private ensureSnapshot(owner: VifOwner, slot: VfSlot): Promise<void> {
    // The engine repairs a VF's drifted attributes concurrently: they share one snapshot write,
    // taken before any of them touches the VF.
    const pending = this.snapshotting.get(slot.address);
    if (pending !== undefined) return pending;
    const writing = (async () => {
      if (await this.deps.snapshots.read(slot.address) === undefined) await this.snapshot(owner, slot);
    })().finally(() => { this.snapshotting.delete(slot.address); });
    this.snapshotting.set(slot.address, writing);
    return writing;
  }

  /** Writes the VF's restore snapshot (atomically, before anything touches the VF). */
  private async snapshot(owner: VifOwner, slot: VfSlot): Promise<void> {
    const device = await this.deps.sysfs.readVf(slot.address, slot.index);
    const original = await readVfConfig(this.deps.netlink, await this.pfLink(slot), slot.index);
    await this.deps.snapshots.write({
      pf: slot.pf, pfName: slot.pfName, vf: slot.index, address: slot.address, owner, original,
      ...(device.driver === undefined ? {} : { driver: device.driver }),
      ...(device.driverOverride === undefined ? {} : { driverOverride: device.driverOverride }),
    });
  }

  /** Binds the VF driver and sets every attribute (repeat-safe; each read back). */
  private async configure(owner: VifOwner, slot: VfSlot, mac: string): Promise<AssignedVf> {
    const { config, netlink, sysfs } = this.deps;
    const pf = await this.pfLink(slot);
    if (!(await sysfs.pfNetdevUp(slot.pf, slot.pfName))) {
      throw SriovSysfsError.at({ pf: slot.pfName, vf: slot.index }, 'the PF is down: the driver would accept VF changes and not apply them');
    }
    await sysfs.bindVf(slot.pf, slot, config.vfDriver);
    const skipped = await applyVfAttributes(netlink, pf, slot.index, wantedVfAttributes(config.defaults, mac, config.vlan), this.unsupportedOn(slot.pf));
    this.log(`VF ${slot.address} (${slot.pfName} VF ${slot.index}) set for VM ${owner.vmUuid} VIF ${owner.vifIndex}`);
    return { slot, mac: mac.toLowerCase(), ...(config.vlan === undefined ? {} : { vlan: config.vlan }), driver: config.vfDriver, skipped };
  }

  /** One attribute of `owner`'s VF, one request, read back (a drift repair). */
  async setAttribute(owner: VifOwner, value: VfAttribute): Promise<VfNetConfig> {
    const entry = this.pool.heldBy(owner);
    if (entry === undefined) throw SriovSysfsError.at({ pf: this.deps.network }, `VM ${owner.vmUuid} VIF ${owner.vifIndex} holds no VF of network ${this.deps.network}`);
    await this.ensureSnapshot(owner, entry.slot);
    return setVfAttribute(this.deps.netlink, await this.pfLink(entry.slot), entry.slot.index, value);
  }

  /** Every present VF's settings as its PF driver reports them (one RTM_GETLINK per PF). */
  async readConfigs(): Promise<Map<PciAddress, VfNetConfig>> {
    const configs = new Map<PciAddress, VfNetConfig>();
    const entries = this.pool.list().filter((entry) => entry.present);
    for (const pf of new Set(entries.map((entry) => entry.slot.pf))) {
      const mine = entries.filter((entry) => entry.slot.pf === pf);
      const first = mine[0];
      if (first === undefined) continue;
      const link = await this.deps.netlink.getLink({ ifindex: (await this.pfLink(first.slot)).ifindex });
      for (const entry of mine) {
        const config = link.vfs.find((vf) => vf.index === entry.slot.index);
        if (config !== undefined) configs.set(entry.slot.address, config);
      }
    }
    return configs;
  }

  /**
   * A free VF that still carries a MAC of vifd's (its snapshot lost, or set by
   * a vifd that crashed before writing one): cleared so the next guest does
   * not inherit another's MAC and VLAN. Only a free VF is touched.
   */
  async resetOrphan(address: PciAddress): Promise<void> {
    const entry = this.pool.get(address);
    if (entry?.state.kind !== 'free' || !entry.present) return;
    const pf = await this.pfLink(entry.slot);
    await applyVfAttributes(this.deps.netlink, pf, entry.slot.index, [
      { value: { kind: 'vlan', vlan: 0, qos: 0, protocol: '802.1Q' }, skipIfUnsupported: false },
      { value: { kind: 'mac', mac: '00:00:00:00:00:00' }, skipIfUnsupported: false },
    ]);
    this.log(`VF ${address} (${entry.slot.pfName} VF ${entry.slot.index}) carried vifd's MAC with no owner: reset`);
  }

  /** libvirt reports the guest running with the VF. */
  markAttached(owner: VifOwner): void {
    const entry = this.pool.heldBy(owner);
    if (entry !== undefined) this.pool.apply(entry.slot.address, { kind: 'attach', owner });
  }

  /**
   * Releases `owner`'s VF. Call only when libvirt says the device is removed,
   * the VM stopped, or its start failed (`proof`): never before.
   */
  async release(owner: VifOwner, proof: ReleaseProof): Promise<VfState | undefined> {
    const entry = this.pool.heldBy(owner);
    if (entry === undefined) return undefined;
    this.pool.apply(entry.slot.address, { kind: 'release', owner, proof });
    if (!entry.present) return this.pool.get(entry.slot.address)?.state; // restored when it returns
    return this.restore(entry.slot.address);
  }

  /** Restores every VF that is releasing (after a crash) and retries quarantined ones. */
  async finishReleases(): Promise<void> {
    for (const entry of this.pool.list()) {
      if (!entry.present) continue;
      if (entry.state.kind === 'quarantined') this.pool.apply(entry.slot.address, { kind: 'retry' });
      if (this.pool.get(entry.slot.address)?.state.kind === 'releasing') await this.restore(entry.slot.address);
    }
  }

  /** Puts a releasing VF back as its snapshot found it; free only if it all reads back, else quarantined. */
  private async restore(address: PciAddress): Promise<VfState> {
    const entry = this.pool.get(address);
    if (entry === undefined) throw SriovSysfsError.at({ pf: address }, 'restore of a VF that is not in the pool');
    try {
      const snapshot = await this.deps.snapshots.read(address);
      if (snapshot !== undefined) {
        // The driver first: leaving vfio-pci resets the VF (FLR), and igb then gives a VF
        // without an admin MAC a random one (measured), so settings restored before the
        // rebind would not stay as read back.
        await this.deps.sysfs.restoreVfDriver(entry.slot.pf, entry.slot, {
          ...(snapshot.driver === undefined ? {} : { driver: snapshot.driver }),
          ...(snapshot.driverOverride === undefined ? {} : { driverOverride: snapshot.driverOverride }),
        });
        const pf = await this.pfLink(entry.slot);
        await applyVfAttributes(this.deps.netlink, pf, entry.slot.index, restoreAttributes(snapshot.original), this.unsupportedOn(entry.slot.pf));
        await this.deps.snapshots.remove(address);
      }
      return this.pool.apply(address, { kind: 'restored', clean: true }).state;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log(`VF ${address} quarantined: ${reason}`);
      return this.pool.apply(address, { kind: 'restored', clean: false, reason }).state;
    }
  }
}
