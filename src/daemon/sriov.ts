// SR-IOV in the daemon: the VF pools of the config's SR-IOV networks (real
// sysfs, rtnetlink and /run snapshots), refreshed before each full reconcile
// with libvirt's running guests (so a VF in a guest is never restored), the
// periodic pass after it (interrupted releases, quarantine retries, orphan
// resets), the per-VF rows of `vifctl status` and the metrics.
import type { MetricsRegistry } from '../api/metrics.js';
import { PARAMS } from '../api/protocol.js';
import type { ChooseVfsResult, PfStatusRow, VfStatusRow } from '../api/protocol.js';
import type { HostConfig } from '../config/schema.js';
import type { EngineLog } from '../engine/types.js';
import { KernelVfNetlink } from '../host/sriov/netlink.js';
import type { VfNetlink } from '../host/sriov/netlink.js';
import { SriovNetworkPool } from '../host/sriov/network-pool.js';
import type { VfOwnerFacts } from '../host/sriov/network-pool-types.js';
import { VfSnapshotStore } from '../host/sriov/snapshots.js';
import { SriovSysfs } from '../host/sriov/sysfs.js';
import { SriovVfs } from '../host/sriov/vf-host.js';
import type { LibvirtConnection } from '../libvirt/connection.js';
import { withErrorContext } from '../model/errors.js';
import { parsePciAddress } from '../model/sriov/pci.js';
import type { PciAddress } from '../model/sriov/pci.js';
import { VF_STATE_KINDS } from '../model/sriov/release.js';
import type { VifOwner } from '../model/sriov/release.js';
import { vfUsesOf } from '../sources/libvirt/vf-owners.js';
import { parseDomainXmlAsync } from '../sources/libvirt/xml-parse.js';

/** Boot-scoped, like the VFs themselves: a host reboot re-creates them fresh. */
export const SNAPSHOT_DIR = '/run/vifd/sriov';
const RELEASE_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5];

/** Which VFs libvirt's running guests have: vifd's VIFs', and other tools'. */
export async function runningVfFacts(libvirt: LibvirtConnection): Promise<VfOwnerFacts> {
  const runningUsers = new Map<PciAddress, VifOwner>();
  const foreignUse = new Map<PciAddress, string>();
  for (const info of (await libvirt.listDomains()).filter((domain) => domain.id !== -1)) {
    const domain = await parseDomainXmlAsync(await libvirt.domainXml({ uuid: info.uuid }));
    for (const use of vfUsesOf(domain)) {
      const address = parsePciAddress(use.address);
      if (use.owner === undefined) foreignUse.set(address, `in domain ${JSON.stringify(use.domain)}, not vifd's`);
      else runningUsers.set(address, use.owner);
    }
  }
  return { runningUsers, foreignUse };
}

/** Where the pools reach the hardware: the host's /sys, the kernel's rtnetlink and /run/vifd/sriov unless given. */
export interface SriovHostOptions {
  readonly sysfs?: SriovSysfs;
  readonly netlink?: VfNetlink;
  readonly snapshotDir?: string;
}

interface PoolDeps {
  readonly sysfs: SriovSysfs;
  readonly netlink: VfNetlink;
  readonly snapshots: VfSnapshotStore;
  readonly log: EngineLog;
}

/** One pool per SR-IOV network of `config`: those in `known` are kept (reconfigured), others made. */
function poolsFor(config: HostConfig, deps: PoolDeps, known: ReadonlyMap<string, SriovNetworkPool> = new Map()): Map<string, SriovNetworkPool> {
  const pools = new Map<string, SriovNetworkPool>();
  for (const network of config.networks.values()) {
    if (network.sriov === undefined) continue;
    const kept = known.get(network.name);
    kept?.reconfigure(network.sriov);
    pools.set(network.name, kept ?? new SriovNetworkPool({
      network: network.name, config: network.sriov, sysfs: deps.sysfs, netlink: deps.netlink, snapshots: deps.snapshots, log: (message) => { deps.log.info(message); },
    }));
  }
  return pools;
}

export class SriovWiring {
  private pools: ReadonlyMap<string, SriovNetworkPool>;

  private constructor(readonly vfs: SriovVfs, pools: ReadonlyMap<string, SriovNetworkPool>, private readonly deps: PoolDeps) {
    this.pools = pools;
  }

  private get log(): EngineLog {
    return this.deps.log;
  }

  /** null when the config has no SR-IOV network (no netlink socket is opened then). `vmName` names VMs in refusals. */
  static fromConfig(config: HostConfig, log: EngineLog,
    options: SriovHostOptions & { readonly vmName?: (uuid: string) => string | undefined } = {}): SriovWiring | null {
    if (![...config.networks.values()].some((network) => network.sriov !== undefined)) return null;
    const deps: PoolDeps = {
      netlink: options.netlink ?? KernelVfNetlink.open(), sysfs: options.sysfs ?? new SriovSysfs('/sys'), log,
      snapshots: new VfSnapshotStore(options.snapshotDir ?? SNAPSHOT_DIR, { log: (message) => { log.warn(message); } }),
    };
    const pools = poolsFor(config, deps);
    const vfs = new SriovVfs(pools, { macPrefix: config.macPrefix.text, log: (message) => { log.warn(message); }, ...(options.vmName === undefined ? {} : { vmName: options.vmName }) });
    return new SriovWiring(vfs, pools, deps);
  }

  /**
   * A reload's sriov blocks: new SR-IOV networks get pools, removed ones stop
   * being allocatable (VFs still in use are kept until released), changed
   * ones take their new settings for new assignments at once and their PFs
   * and exclusions at the next scan (the caller's full reconcile, which also
   * repairs attached VFs to new settings).
   */
  reload(next: HostConfig): void {
    this.pools = poolsFor(next, this.deps, this.pools);
    this.vfs.usePools(this.pools);
  }

  /** `vifctl define`'s VF choice (see SriovVfs.choose), from the control socket's untrusted params. */
  chooseVfs(params: unknown): ChooseVfsResult {
    const request = PARAMS['choose-vfs'](params);
    const recorded = new Map(Object.entries(request.recorded ?? {}).map(([address, user]) => [parsePciAddress(address.toLowerCase(), 'recorded'), user] as const));
    const vifs = request.vifs.map((vif) => ({
      index: vif.index, network: vif.network,
      ...(vif.vf === undefined ? {} : { recorded: parsePciAddress(vif.vf.toLowerCase(), 'vf') }),
      ...(vif.previous === undefined ? {} : { previous: parsePciAddress(vif.previous.toLowerCase(), 'previous') }),
    }));
    const chosen = withErrorContext(request.name === undefined ? {} : { domain: request.name }, () => this.vfs.choose(request.uuid.toLowerCase(), vifs, recorded));
    return { vfs: chosen.map((vf) => ({ index: vf.index, network: vf.network, address: vf.slot.address, pfName: vf.slot.pfName, vf: vf.slot.index, how: vf.how,
      ...(vf.sharedWith === undefined ? {} : { sharedWith: vf.sharedWith }) })) };
  }

  /** Every PF of every pool and its link, for `vifctl status` and vifd_sriov_pf_up. */
  pfRows(): Promise<PfStatusRow[]> {
    return this.vfs.pfLinks();
  }

  /**
   * Before a full reconcile: scan, with libvirt's running guests when libvirtd
   * answers. A failure to read them is logged and the scan goes on without
   * them (nothing is restored then); it never stops the TAPs' reconcile.
   */
  async refresh(libvirt: LibvirtConnection | null): Promise<void> {
    let facts: VfOwnerFacts | undefined;
    try {
      facts = libvirt === null ? undefined : await runningVfFacts(libvirt);
    } catch (error) {
      this.log.warn(`sriov: cannot read which VFs running guests have: ${(error as Error).message}`);
    }
    await this.vfs.refresh(facts);
  }

  /** After a full reconcile: finish releases, retry quarantined VFs, reset orphans. */
  maintain(): Promise<void> {
    return this.vfs.maintain();
  }

  /** Every VF of every pool, for `vifctl status`. */
  rows(): VfStatusRow[] {
    return this.vfs.views().map((view): VfStatusRow => {
      const state = view.state;
      const owner = state.kind === 'reserved' || state.kind === 'attached' || state.kind === 'releasing' ? state.owner : undefined;
      const reason = state.kind === 'quarantined' || state.kind === 'foreign' ? state.reason : view.retired === true ? 'out of the pool since a reload; kept until released' : undefined;
      return {
        network: view.network, address: view.slot.address, pf: view.slot.pf, pfName: view.slot.pfName, index: view.slot.index, state: state.kind, present: view.present,
        ...(owner === undefined ? {} : { owner: { uuid: owner.vmUuid, index: owner.vifIndex } }), ...(reason === undefined ? {} : { reason }),
      };
    });
  }

  registerMetrics(registry: MetricsRegistry): void {
    const vfs = registry.gauge('vifd_sriov_vfs', 'SR-IOV VFs by network, PF and state (free, reserved, attached, releasing, quarantined, foreign)', ['network', 'pf', 'state']);
    const failures = registry.gauge('vifd_sriov_alloc_failures', 'VF claims refused since start, by network and reason', ['network', 'reason']);
    const repairs = registry.gauge('vifd_sriov_drift_repairs', 'VF attributes set again since start because they had drifted, by attribute', ['attribute']);
    const release = registry.histogram('vifd_sriov_release_seconds', 'Time to restore and read back a released VF', [], RELEASE_BUCKETS);
    const pfUp = registry.gauge('vifd_sriov_pf_up', 'SR-IOV PF link: 1 when operstate is up (or unknown with carrier), else 0', ['network', 'pf']);
    registry.onCollect(async () => {
      const links = await this.pfRows();
      pfUp.reset();
      for (const link of links) pfUp.set({ network: link.network, pf: link.pfName }, link.up ? 1 : 0);
      vfs.reset();
      const rows = this.rows();
      for (const key of new Set(rows.map((row) => `${row.network ?? ''}\t${row.pfName}`))) {
        const [network = '', pf = ''] = key.split('\t');
        for (const state of VF_STATE_KINDS) vfs.set({ network, pf, state }, rows.filter((row) => row.network === network && row.pfName === pf && row.state === state).length);
      }
      const counters = this.vfs.counters;
      for (const [key, count] of counters.allocationFailures) {
        const [network = '', reason = ''] = key.split('/');
        failures.set({ network, reason }, count);
      }
      for (const [attribute, count] of counters.driftRepairs) repairs.set({ attribute }, count);
      for (const seconds of counters.releaseSeconds.splice(0)) release.observe({}, seconds);
    });
  }

  close(): void {
    this.deps.netlink.close();
  }
}
