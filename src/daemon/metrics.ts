// vifd's metrics: the engine's counters and plug-latency histogram, Node's
// process and event-loop metrics, vifd_build_info, and at each scrape the
// VIFs per state and every vifd-owned interface's OVS statistics (read with
// one select, so nothing streams between scrapes).
import type { MetricsRegistry } from '../api/metrics.js';
import type { Engine } from '../engine/engine.js';
import type { EngineMetrics } from '../engine/types.js';
import type { OvsdbClient } from '../host/ovsdb/client.js';
import { ownedInterfaceStatistics } from '../host/ovsdb/statistics.js';

/** Seconds; a prepare on a quiet host takes milliseconds, a loaded switch can take seconds. */
const PLUG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const STATES = ['ok', 'drift', 'missing', 'orphan', 'detaching'] as const;
/**
 * OVS Interface.statistics keys, exported per VIF as counters with a
 * direction label. rx and tx are as OVS counts them on the host side of the
 * port: for a TAP, rx is what the guest sent and tx what it was sent.
 */
const TRAFFIC = [
  { name: 'vifd_vif_bytes_total', help: 'Bytes through the VIF', rx: 'rx_bytes', tx: 'tx_bytes' },
  { name: 'vifd_vif_packets_total', help: 'Packets through the VIF', rx: 'rx_packets', tx: 'tx_packets' },
  { name: 'vifd_vif_dropped_packets_total', help: 'Packets the VIF dropped', rx: 'rx_dropped', tx: 'tx_dropped' },
] as const;
const DIRECTIONS = ['rx', 'tx'] as const;
/** One series per VIF: the VM by UUID (names change and are untrusted), the VIF index, the network. */
const VIF_LABELS = ['vm_uuid', 'vif', 'network', 'direction'] as const;
const TRAFFIC_HELP = ' as OVS counts it on the host side of the port (rx: from the guest, tx: to the guest); starts again from 0 when the port is recreated';

/** Node's own metrics and vifd_build_info{version,node}, constant 1 as build_info metrics are. */
export function registerProcessMetrics(registry: MetricsRegistry, version: string): void {
  registry.collectDefaultMetrics();
  registry.gauge('vifd_build_info', 'vifd version and the Node.js it runs on; always 1', ['version', 'node']).set({ version, node: process.version }, 1);
}

export function engineMetrics(registry: MetricsRegistry): EngineMetrics {
  const plug = registry.histogram('vifd_plug_duration_seconds', 'Time from a prepare request to its verdict', ['outcome'], PLUG_BUCKETS);
  const reconcileErrors = registry.counter('vifd_reconcile_errors_total', 'Reconcile steps that failed (retried on the next reconcile)', []);
  const orphans = registry.counter('vifd_orphans_removed_total', 'VIFs removed because their VM is gone or not running', []);
  const collisions = registry.counter('vifd_mac_collisions_total', 'Derived MACs that collided with another VIF on this host and moved on', []);
  return {
    plugSeconds: (seconds, outcome) => { plug.observe({ outcome }, seconds); },
    reconcileErrors: (count) => { reconcileErrors.inc(undefined, count); },
    orphansRemoved: (count) => { orphans.inc(undefined, count); },
    macCollisions: (count) => { collisions.inc(undefined, count); },
  };
}

export function registerScrapeMetrics(registry: MetricsRegistry, engine: Engine, ovsdb: OvsdbClient): void {
  const vifs = registry.gauge('vifd_vifs', 'VIFs by state (ok, drift, missing, orphan, detaching)', ['state']);
  const traffic = TRAFFIC.map((spec) => ({ spec, counter: registry.mirroredCounter(spec.name, `${spec.help}${TRAFFIC_HELP}`, VIF_LABELS) }));
  registry.onCollect(async () => {
    const interfaces = await ownedInterfaceStatistics(ovsdb);
    const reports = engine.status();
    // Everything awaited is done: rebuild the metrics without yielding, so a scrape never sees them half-filled.
    vifs.reset();
    for (const state of STATES) vifs.set({ state }, reports.filter((report) => report.state === state).length);
    for (const { counter } of traffic) counter.reset();
    for (const { vmUuid, vifIndex, network, counters } of interfaces) {
      const vif = { vm_uuid: vmUuid, vif: vifIndex, network };
      for (const { spec, counter } of traffic) {
        for (const direction of DIRECTIONS) {
          const value = counters[spec[direction]];
          // OVS leaves out what a device does not count; a negative value would be a bug of its own, not traffic.
          if (value !== undefined && value >= 0) counter.set({ ...vif, direction }, value);
        }
      }
    }
  });
}
