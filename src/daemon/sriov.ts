// SR-IOV in the daemon: the VF pools of the config's SR-IOV networks (real
// sysfs, rtnetlink and /run snapshots), refreshed before each full reconcile
// with libvirt's running guests (so a VF in a guest is never restored), the
// periodic pass after it (interrupted releases, quarantine retries, orphan
// resets), the per-VF rows of `vifctl status` and the metrics.
import type { MetricsRegistry } from '../api/metrics.js';
import type { VfStatusRow } from '../api/protocol.js';
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

export class SriovWiring {
  private constructor(readonly vfs: SriovVfs, private readonly netlink: VfNetlink, private readonly log: EngineLog) {}

  /** null when the config has no SR-IOV network (no netlink socket is opened then). */
  static fromConfig(config: HostConfig, log: EngineLog, options: { sysfs?: SriovSysfs; snapshotDir?: string; netlink?: VfNetlink } = {}): SriovWiring | null {
    const networks = [...config.networks.values()].filter((network) => network.sriov !== undefined);
    if (networks.length === 0) return null;
    const netlink = options.netlink ?? KernelVfNetlink.open();
    const sysfs = options.sysfs ?? new SriovSysfs('/sys');
    const snapshots = new VfSnapshotStore(options.snapshotDir ?? SNAPSHOT_DIR, { log: (message) => { log.warn(message); } });
    const pools = new Map(networks.flatMap((network) => (network.sriov === undefined ? [] : [[network.name, new SriovNetworkPool({
      network: network.name, config: network.sriov, sysfs, netlink, snapshots, log: (message) => { log.info(message); },
    })] as const])));
    return new SriovWiring(new SriovVfs(pools, { macPrefix: config.macPrefix.text, log: (message) => { log.warn(message); } }), netlink, log);
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
      const reason = state.kind === 'quarantined' || state.kind === 'foreign' ? state.reason : undefined;
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
    registry.onCollect(() => {
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
    this.netlink.close();
  }
}
