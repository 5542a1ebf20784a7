// Every SR-IOV network's VF pool on this host, as the planner and the sriov-vf
// kind use them: a synchronous claim (find + reserve in one turn), a
// synchronous view of every VF with its last read-back settings (the kind's
// observe), and the async actions (assign, one attribute, release, the
// periodic retry of quarantined VFs and reset of orphans). Counts what
// metrics show.
import { VfPoolExhaustedError } from '../../model/sriov/allocator.js';
import type { VfChoice, VfSlot } from '../../model/sriov/allocator.js';
import type { PciAddress } from '../../model/sriov/pci.js';
import { describeOwner, sameOwner } from '../../model/sriov/release.js';
import type { VfState, VifOwner } from '../../model/sriov/release.js';
import { VfUnavailableError } from '../../model/sriov/vf-plan.js';
import type { PlannedVf, VfChooser } from '../../model/sriov/vf-plan.js';
import type { VfAttribute, VfNetConfig } from '../../model/sriov/vf-settings.js';
import type { SriovNetworkPool } from './network-pool.js';
import type { PfLinkState, VfOwnerFacts } from './network-pool-types.js';

/** One VF as the kind and status see it. */
export interface VfView {
  readonly network: string;
  readonly slot: VfSlot;
  readonly state: VfState;
  /** False while a held VF is gone from sysfs (its PF reset). */
  readonly present: boolean;
  /** Its settings at the last read (refresh, or after vifd set them); absent when never read. */
  readonly config?: VfNetConfig;
  /** Out of the pool since a reload (excluded, its PF or network gone), kept while still in use. */
  readonly retired?: boolean;
}

export interface SriovCounters {
  /** Claims refused, by network and reason (exhausted, unavailable). */
  readonly allocationFailures: Map<string, number>;
  /** Attributes set again because they had drifted, by attribute. */
  readonly driftRepairs: Map<string, number>;
  /** Seconds each release took (restore + read back), until a metrics scrape takes them (at most the last 1000). */
  readonly releaseSeconds: number[];
}

const MAX_KEPT_RELEASES = 1000;
const planned = (slot: VfSlot): PlannedVf => ({ address: slot.address, on: { pf: slot.pf, pfName: slot.pfName, index: slot.index } });
const bump = (map: Map<string, number>, key: string): void => { map.set(key, (map.get(key) ?? 0) + 1); };

/** One VIF's request to `choose`: its network, and the VF its definition records or its previous definition had. */
export interface VfChoiceRequest {
  readonly index: number;
  readonly network: string;
  readonly recorded?: PciAddress;
  readonly previous?: PciAddress;
}

export interface ChosenVf extends Omit<VfChoice, 'entry' | 'how'> {
  readonly index: number;
  readonly network: string;
  readonly slot: VfSlot;
  readonly how: VfChoice['how'] | 'recorded';
}

function describeState(state: VfState, vmName: (uuid: string) => string | undefined): string {
  switch (state.kind) {
    case 'attached': {
      const name = vmName(state.owner.vmUuid);
      return `in use by running VM ${name === undefined ? state.owner.vmUuid : `${JSON.stringify(name)} (${state.owner.vmUuid})`} VIF ${state.owner.vifIndex}`;
    }
    case 'reserved': return `reserved for ${describeOwner(state.owner)}`;
    case 'quarantined': return `quarantined (${state.reason})`;
    case 'foreign': return `used by something else (${state.reason})`;
    default: return state.kind;
  }
}

export class SriovVfs implements VfChooser {
  private readonly configs = new Map<PciAddress, VfNetConfig>();
  readonly counters: SriovCounters = { allocationFailures: new Map(), driftRepairs: new Map(), releaseSeconds: [] };
  /** Until libvirt's running guests were given once, no VF is restored: a recovered one may still be in a guest. */
  private ownersKnown = false;

  /** Networks a reload took away while their VFs were held: no claims, kept until every VF is released. */
  private readonly retiring = new Map<string, SriovNetworkPool>();

  constructor(
    private pools: ReadonlyMap<string, SriovNetworkPool>,
    private readonly options: { readonly macPrefix: string; readonly log?: (message: string) => void; readonly vmName?: (uuid: string) => string | undefined },
  ) {}

  /** Pools to allocate from (claims); `retiring` too for what a held VF needs (assign again, repair, release). */
  private poolOf(network: string, retiring = false): SriovNetworkPool {
    const pool = this.pools.get(network) ?? (retiring ? this.retiring.get(network) : undefined);
    if (pool === undefined) throw new VfUnavailableError(`network ${network} has no VF pool on this host`, { field: 'network', value: network });
    return pool;
  }

  private everyPool(): [string, SriovNetworkPool][] {
    return [...this.pools, ...this.retiring];
  }

  /**
   * A reload's pools: those of networks still SR-IOV (the same objects,
   * reconfigured by the caller) and new ones. A network gone that still
   * holds VFs keeps its pool, unallocatable, until they are released.
   */
  usePools(next: ReadonlyMap<string, SriovNetworkPool>): void {
    for (const [network, pool] of this.pools) {
      if (next.has(network)) continue;
      pool.retireAll();
      this.retiring.set(network, pool);
    }
    for (const network of next.keys()) this.retiring.delete(network);
    this.pools = next;
  }

  /** The planner's claim (see VfChooser): synchronous, so find + reserve cannot interleave with another plan. */
  claim(network: string, owner: VifOwner, wanted?: PciAddress): PlannedVf {
    const { pool } = this.poolOf(network);
    const context = { vmUuid: owner.vmUuid, vifIndex: owner.vifIndex, field: 'vf' };
    const refuse = (reason: string, message: string): never => {
      bump(this.counters.allocationFailures, `${network}/${reason}`);
      throw new VfUnavailableError(message, { ...context, value: wanted });
    };
    const held = pool.heldBy(owner);
    if (held !== undefined) {
      if (wanted !== undefined && held.slot.address !== wanted) refuse('mismatch', `network ${network}: this VIF holds VF ${held.slot.address}, its definition records ${wanted}`);
      return planned(held.slot);
    }
    if (wanted !== undefined) {
      const entry = pool.get(wanted);
      if (entry === undefined) return refuse('unavailable', `network ${network}: VF ${wanted} is not in its pool (not a VF of its PFs, excluded, or gone)`);
      if (pool.isRetired(wanted)) refuse('unavailable', `network ${network}: VF ${wanted} is no longer in its pool (excluded, or its PF taken out of the config)`);
      if (entry.state.kind !== 'free') refuse('unavailable', `network ${network}: VF ${wanted} recorded in its definition is ${describeState(entry.state, this.vmName)}${
        entry.state.kind === 'attached' ? ': a VF recorded in a stopped VM\'s definition is not held for it; define this VM again (vifctl define) to choose a free VF' : ''}`);
      return planned(pool.apply(wanted, { kind: 'reserve', owner }).slot);
    }
    try {
      return planned(pool.claim({ owner }).slot);
    } catch (error) {
      if (error instanceof VfPoolExhaustedError) bump(this.counters.allocationFailures, `${network}/exhausted`);
      throw error;
    }
  }

  private readonly vmName = (uuid: string): string | undefined => this.options.vmName?.(uuid);

  /**
   * `vifctl define`'s choice for each SR-IOV VIF of one VM, reserving nothing:
   * a recorded VF is checked to be in its network's pool; otherwise the VF the
   * VIF holds, its previous one when free, else the lowest free VF of the PF
   * with the most free VFs, passing over VFs of this request and, while
   * another is free, VFs other definitions record (`recordedBy`).
   */
  choose(vmUuid: string, requests: readonly VfChoiceRequest[], recordedBy: ReadonlyMap<PciAddress, string>): ChosenVf[] {
    const taken = new Set<PciAddress>();
    return requests.map((request): ChosenVf => {
      const owner = { vmUuid, vifIndex: request.index };
      const { pool } = this.poolOf(request.network);
      const base = { index: request.index, network: request.network };
      if (request.recorded !== undefined) {
        const entry = pool.get(request.recorded);
        if (entry === undefined || pool.isRetired(request.recorded)) {
          throw new VfUnavailableError(`network ${request.network}: VF ${request.recorded} is not in its pool (not a VF of its PFs, excluded, or gone)`, { vmUuid, vifIndex: request.index, field: 'vf', value: request.recorded });
        }
        taken.add(entry.slot.address);
        // Kept as recorded; a running VM of another VIF that has it keeps this VM from starting meanwhile.
        const holder = entry.state.kind === 'attached' && !sameOwner(entry.state.owner, owner) ? describeState(entry.state, this.vmName) : undefined;
        return { ...base, slot: entry.slot, how: 'recorded', ...(holder === undefined ? {} : { sharedWith: holder }) };
      }
      let choice: VfChoice;
      try {
        choice = pool.choose({ owner, taken, recorded: recordedBy, ...(request.previous === undefined ? {} : { previous: request.previous }) });
      } catch (error) {
        if (error instanceof VfPoolExhaustedError) bump(this.counters.allocationFailures, `${request.network}/exhausted`);
        throw error;
      }
      taken.add(choice.entry.slot.address);
      return { ...base, slot: choice.entry.slot, how: choice.how, ...(choice.sharedWith === undefined ? {} : { sharedWith: `recorded by ${choice.sharedWith} (no other VF was free)` }) };
    });
  }

  /** Each configured PF's link as sysfs reads it now (status and metrics); a PF that cannot be read is left out and logged. */
  async pfLinks(): Promise<(PfLinkState & { readonly network: string })[]> {
    const rows: (PfLinkState & { readonly network: string })[] = [];
    for (const [network, pool] of this.pools) {
      try {
        rows.push(...(await pool.pfLinks()).map((link) => ({ network, ...link })));
      } catch (error) {
        this.options.log?.(`sriov network ${network}: cannot read its PFs' links: ${(error as Error).message}`);
      }
    }
    return rows;
  }

  /** Every VF of every pool, with its last read-back settings (synchronous: the kind's observe). */
  views(): VfView[] {
    return this.everyPool().flatMap(([network, pool]) => pool.pool.list().map((entry): VfView => {
      const config = this.configs.get(entry.slot.address);
      return { network, slot: entry.slot, state: entry.state, present: entry.present, ...(config === undefined ? {} : { config }),
        ...(pool.pool.isRetired(entry.slot.address) ? { retired: true } : {}) };
    }));
  }

  private async reread(network: string, pool: SriovNetworkPool): Promise<void> {
    try {
      for (const [address, config] of await pool.readConfigs()) this.configs.set(address, config);
    } catch (error) {
      this.options.log?.(`sriov network ${network}: cannot read its VFs' settings: ${(error as Error).message}`);
    }
  }

  /**
   * Scans every pool (sysfs, snapshots) and reads every VF's settings. `facts`
   * (libvirt's running guests' VFs) make recovered VFs attached, not releasing;
   * a network that cannot be scanned is logged and the others go on.
   */
  async refresh(facts?: VfOwnerFacts): Promise<void> {
    if (facts !== undefined) this.ownersKnown = true;
    for (const [network, pool] of this.everyPool()) {
      try {
        await pool.scan(facts);
      } catch (error) {
        this.options.log?.(`sriov network ${network}: scan failed: ${(error as Error).message}`);
        continue;
      }
      await this.reread(network, pool);
    }
    this.dropReleased();
  }

  /** A retiring network's pool goes once none of its VFs is held, being restored or quarantined. */
  private dropReleased(): void {
    for (const [network, pool] of this.retiring) {
      if (pool.pool.list().every((entry) => entry.state.kind === 'free' || entry.state.kind === 'foreign')) {
        this.retiring.delete(network);
        this.options.log?.(`sriov network ${network}: removed by a reload; its last VF was released`);
      }
    }
  }

  /** Gives `owner` the VF its plan claimed: snapshot, driver, every attribute set and read back. */
  async assign(network: string, owner: VifOwner, mac: string, address: PciAddress): Promise<void> {
    const pool = this.poolOf(network, true);
    // The plan's claim is gone when vifd restarted between plan and plug: claim that VF again.
    if (pool.pool.heldBy(owner) === undefined) this.claim(network, owner, address);
    const held = pool.pool.heldBy(owner);
    if (held?.slot.address !== address) throw new VfUnavailableError(`network ${network}: ${describeOwner(owner)} holds VF ${held?.slot.address ?? 'none'}, not ${address}`, { vmUuid: owner.vmUuid, vifIndex: owner.vifIndex, field: 'vf' });
    await pool.assign(owner, { mac, previous: address });
    pool.markAttached(owner);
    await this.reread(network, pool);
  }

  /** Repairs one drifted attribute (one request, read back). */
  async repair(network: string, owner: VifOwner, value: VfAttribute): Promise<void> {
    const pool = this.poolOf(network, true);
    const seen = await pool.setAttribute(owner, value);
    const held = pool.pool.heldBy(owner);
    if (held !== undefined) this.configs.set(held.slot.address, seen);
    bump(this.counters.driftRepairs, value.kind);
  }

  /** Releases `owner`'s VF: call only once its guest no longer has it (VM stopped, device removed). */
  async release(network: string, owner: VifOwner): Promise<VfState | undefined> {
    const pool = this.poolOf(network, true);
    const started = process.hrtime.bigint();
    const state = await pool.release(owner, 'device-removed');
    if (state !== undefined) this.counters.releaseSeconds.push(Number(process.hrtime.bigint() - started) / 1e9);
    if (this.counters.releaseSeconds.length > MAX_KEPT_RELEASES) this.counters.releaseSeconds.shift();
    await this.reread(network, pool);
    return state;
  }

  /**
   * The periodic pass: finish interrupted releases, retry quarantined VFs, and
   * reset free VFs that carry vifd's MAC with no owner. Does nothing until
   * libvirt's running guests were given to refresh() once.
   */
  async maintain(): Promise<void> {
    if (!this.ownersKnown) {
      this.options.log?.('sriov: releases wait until the running guests\' VFs are known');
      return;
    }
    const prefix = `${this.options.macPrefix.toLowerCase()}:`;
    for (const [network, pool] of this.everyPool()) {
      try {
        await pool.finishReleases();
        // Read after the restores: a VF just restored still shows the MAC vifd had set in the old reading.
        await this.reread(network, pool);
        for (const entry of pool.pool.list()) {
          if (entry.state.kind === 'free' && this.configs.get(entry.slot.address)?.mac.startsWith(prefix) === true) await pool.resetOrphan(entry.slot.address);
        }
      } catch (error) {
        this.options.log?.(`sriov network ${network}: maintenance failed: ${(error as Error).message}`);
      }
      await this.reread(network, pool);
    }
  }
}
