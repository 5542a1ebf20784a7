// Every SR-IOV network's VF pool on this host, as the planner and the sriov-vf
// kind use them: a synchronous claim (find + reserve in one turn), a
// synchronous view of every VF with its last read-back settings (the kind's
// observe), and the async actions (assign, one attribute, release, the
// periodic retry of quarantined VFs and reset of orphans). Counts what
// metrics show.
import { VfPoolExhaustedError } from '../../model/sriov/allocator.js';
import type { VfSlot } from '../../model/sriov/allocator.js';
import type { PciAddress } from '../../model/sriov/pci.js';
import { describeOwner } from '../../model/sriov/release.js';
import type { VfState, VifOwner } from '../../model/sriov/release.js';
import { VfUnavailableError } from '../../model/sriov/vf-plan.js';
import type { PlannedVf, VfChooser } from '../../model/sriov/vf-plan.js';
import type { VfAttribute, VfNetConfig } from '../../model/sriov/vf-settings.js';
import type { SriovNetworkPool } from './network-pool.js';
import type { VfOwnerFacts } from './network-pool-types.js';

/** One VF as the kind and status see it. */
export interface VfView {
  readonly network: string;
  readonly slot: VfSlot;
  readonly state: VfState;
  /** False while a held VF is gone from sysfs (its PF reset). */
  readonly present: boolean;
  /** Its settings at the last read (refresh, or after vifd set them); absent when never read. */
  readonly config?: VfNetConfig;
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

function describeState(state: VfState): string {
  switch (state.kind) {
    case 'reserved': case 'attached': return `${state.kind} for ${describeOwner(state.owner)}`;
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

  constructor(
    private readonly pools: ReadonlyMap<string, SriovNetworkPool>,
    private readonly options: { readonly macPrefix: string; readonly log?: (message: string) => void },
  ) {}

  private poolOf(network: string): SriovNetworkPool {
    const pool = this.pools.get(network);
    if (pool === undefined) throw new VfUnavailableError(`network ${network} has no VF pool on this host`, { field: 'network', value: network });
    return pool;
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
      if (entry.state.kind !== 'free') refuse('unavailable', `network ${network}: VF ${wanted} is ${describeState(entry.state)}`);
      return planned(pool.apply(wanted, { kind: 'reserve', owner }).slot);
    }
    try {
      return planned(pool.claim({ owner }).slot);
    } catch (error) {
      if (error instanceof VfPoolExhaustedError) bump(this.counters.allocationFailures, `${network}/exhausted`);
      throw error;
    }
  }

  /** Every VF of every pool, with its last read-back settings (synchronous: the kind's observe). */
  views(): VfView[] {
    return [...this.pools].flatMap(([network, pool]) => pool.pool.list().map((entry): VfView => {
      const config = this.configs.get(entry.slot.address);
      return { network, slot: entry.slot, state: entry.state, present: entry.present, ...(config === undefined ? {} : { config }) };
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
    for (const [network, pool] of this.pools) {
      try {
        await pool.scan(facts);
      } catch (error) {
        this.options.log?.(`sriov network ${network}: scan failed: ${(error as Error).message}`);
        continue;
      }
      await this.reread(network, pool);
    }
  }

  /** Gives `owner` the VF its plan claimed: snapshot, driver, every attribute set and read back. */
  async assign(network: string, owner: VifOwner, mac: string, address: PciAddress): Promise<void> {
    const pool = this.poolOf(network);
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
    const pool = this.poolOf(network);
    const seen = await pool.setAttribute(owner, value);
    const held = pool.pool.heldBy(owner);
    if (held !== undefined) this.configs.set(held.slot.address, seen);
    bump(this.counters.driftRepairs, value.kind);
  }

  /** Releases `owner`'s VF: call only once its guest no longer has it (VM stopped, device removed). */
  async release(network: string, owner: VifOwner): Promise<VfState | undefined> {
    const pool = this.poolOf(network);
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
    for (const [network, pool] of this.pools) {
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
