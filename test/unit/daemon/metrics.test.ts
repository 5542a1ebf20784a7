import assert from 'node:assert/strict';
import { MetricsRegistry } from '../../../src/api/metrics.js';
import { registerProcessMetrics, registerScrapeMetrics } from '../../../src/daemon/metrics.js';
import type { Engine } from '../../../src/engine/engine.js';
import type { OvsdbClient } from '../../../src/host/ovsdb/client.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';

interface Row { readonly statistics: unknown; readonly external_ids: unknown }

function interfaceRow(index: number, network: string, statistics: Record<string, number>): Row {
  return {
    statistics: ['map', Object.entries(statistics)],
    external_ids: ['map', [['vifd:owner', 'vifd'], ['vm-uuid', UUID], ['vifd:vif-index', String(index)], ['vifd:network', network]]],
  };
}

/** Only what the scrape hook touches: engine.status() and one OVSDB select. */
function fakes(rows: () => Row[], states: () => string[]): { engine: Engine; ovsdb: OvsdbClient } {
  const engine = { status: () => states().map((state) => ({ state })) } as unknown as Engine;
  const ovsdb = { transact: () => Promise.resolve([{ rows: rows() }]) } as unknown as OvsdbClient;
  return { engine, ovsdb };
}

describe('daemon/metrics: what /metrics shows', () => {
  it('exports per-VIF traffic as *_total counters with a direction, labelled by VM UUID, VIF index and network', async () => {
    let rows = [interfaceRow(0, 'prod', { rx_bytes: 100, tx_bytes: 200, rx_packets: 3, tx_packets: 4, rx_dropped: 0, tx_dropped: 1, collisions: 9 }),
      interfaceRow(1, 'storage', { rx_bytes: 5, tx_bytes: -1 })];
    const registry = new MetricsRegistry();
    const { engine, ovsdb } = fakes(() => rows, () => ['ok', 'ok', 'drift']);
    registerScrapeMetrics(registry, engine, ovsdb);
    await registry.collect();
    const text = await registry.render();
    const samples = text.split('\n').filter((line) => line.startsWith('vifd_vif_'));
    const labels = (index: number, network: string, direction: string): string => `{vm_uuid="${UUID}",vif="${index}",network="${network}",direction="${direction}"}`;
    assert.deepEqual(samples, [
      `vifd_vif_bytes_total${labels(0, 'prod', 'rx')} 100`, `vifd_vif_bytes_total${labels(0, 'prod', 'tx')} 200`,
      `vifd_vif_bytes_total${labels(1, 'storage', 'rx')} 5`,
      `vifd_vif_packets_total${labels(0, 'prod', 'rx')} 3`, `vifd_vif_packets_total${labels(0, 'prod', 'tx')} 4`,
      `vifd_vif_dropped_packets_total${labels(0, 'prod', 'rx')} 0`, `vifd_vif_dropped_packets_total${labels(0, 'prod', 'tx')} 1`,
    ]);
    assert.match(text, /^# TYPE vifd_vif_bytes_total counter$/m);
    assert.match(text, /^vifd_vifs\{state="ok"\} 2$/m);
    assert.match(text, /^vifd_vifs\{state="drift"\} 1$/m);
    assert.match(text, /^vifd_metrics_collect_errors_total 0$/m);
    rows = [interfaceRow(1, 'storage', { rx_bytes: 6 })];
    await registry.collect();
    const later = (await registry.render()).split('\n').filter((line) => line.startsWith('vifd_vif_'));
    assert.deepEqual(later, [`vifd_vif_bytes_total${labels(1, 'storage', 'rx')} 6`], 'a VIF that is gone leaves the exposition');
  });

  it('adds vifd_build_info and Node\'s process and event-loop metrics', async () => {
    const registry = new MetricsRegistry();
    registerProcessMetrics(registry, '1.2.3');
    const text = await registry.render();
    assert.match(text, new RegExp(`^vifd_build_info\\{version="1\\.2\\.3",node="${process.version.replaceAll('.', '\\.')}"\\} 1$`, 'm'));
    assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
    assert.match(text, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
  });
});
