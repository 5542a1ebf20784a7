// Every vifd-owned interface's OVS statistics, read with one select at a
// scrape (statistics are not monitored: they change all the time, and
// streaming them between scrapes would cost for nothing).
import { integerMap, map, stringMap } from './datum.js';
import type { OvsdbClient } from './client.js';
import { EXTERNAL_ID, OWNER_VALUE } from './ports.js';

export interface OwnedInterfaceStatistics {
  readonly vmUuid: string;
  /** The VIF index as vifd wrote it ('' when missing). */
  readonly vifIndex: string;
  readonly network: string;
  /** Interface.statistics: rx_bytes, tx_packets, ... as OVS counts them. */
  readonly counters: Readonly<Record<string, number>>;
}

export async function ownedInterfaceStatistics(ovsdb: OvsdbClient): Promise<OwnedInterfaceStatistics[]> {
  const [result] = await ovsdb.transact([{
    op: 'select', table: 'Interface', columns: ['statistics', 'external_ids'],
    where: [['external_ids', 'includes', map({ [EXTERNAL_ID.owner]: OWNER_VALUE })]],
  }]);
  return (result?.rows ?? []).map((row) => {
    const ids = stringMap(row.external_ids);
    return { vmUuid: ids[EXTERNAL_ID.vmUuid] ?? '', vifIndex: ids[EXTERNAL_ID.vifIndex] ?? '', network: ids[EXTERNAL_ID.network] ?? '', counters: integerMap(row.statistics) };
  });
}
