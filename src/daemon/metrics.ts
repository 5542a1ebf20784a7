// vifd's metrics: the engine's counters and plug-latency histogram, and at
// each scrape the VIFs per state and every vifd-owned interface's OVS
// statistics (read with one select, so nothing streams between scrapes).
import type { MetricsRegistry } from '../api/metrics.js';
import type { Engine } from '../engine/engine.js';
import type { EngineMetrics } from '../engine/types.js';
import { integerMap, map, stringMap } from '../host/ovsdb/datum.js';
import type { OvsdbClient } from '../host/ovsdb/client.js';
import { EXTERNAL_ID, OWNER_VALUE } from '../host/ovsdb/ports.js';

/** Seconds; a prepare on a quiet host takes milliseconds, a loaded switch can take seconds. */
const PLUG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const STATES = ['ok', 'drift', 'missing', 'orphan', 'detaching'] as const;
/** OVS Interface.statistics keys exported per VIF. */
const STATISTICS = ['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'rx_dropped', 'tx_dropped'] as const;

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
  const statistics = STATISTICS.map((key) => ({
    key, gauge: registry.gauge(`vifd_vif_${key}`, `OVS interface statistic ${key} (resets when the port is recreated)`, ['vm', 'vm_uuid', 'vif', 'device']),
  }));
  registry.onCollect(async () => {
    const [result] = await ovsdb.transact([{
      op: 'select', table: 'Interface', columns: ['name', 'statistics', 'external_ids'],
      where: [['external_ids', 'includes', map({ [EXTERNAL_ID.owner]: OWNER_VALUE })]],
    }]);
    const reports = engine.status();
    const names = new Map(reports.map((report) => [report.device, report.domain ?? '']));
    // Everything awaited is done: rebuild the gauges without yielding, so a scrape never sees them half-filled.
    vifs.reset();
    for (const state of STATES) vifs.set({ state }, reports.filter((report) => report.state === state).length);
    for (const { gauge } of statistics) gauge.reset();
    for (const row of result?.rows ?? []) {
      const device = String(row.name);
      const ids = stringMap(row.external_ids);
      const labels = { vm: names.get(device) ?? '', vm_uuid: ids[EXTERNAL_ID.vmUuid] ?? '', vif: ids[EXTERNAL_ID.vifIndex] ?? '', device };
      const counters = integerMap(row.statistics);
      for (const { key, gauge } of statistics) {
        const value = counters[key];
        if (value !== undefined) gauge.set(labels, value);
      }
    }
  });
}
