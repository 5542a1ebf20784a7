// What `vifctl status` shows per VIF: the engine's report flattened into the
// operator's columns. For a VIF vifd still wants the desired values are shown
// (the problems column says where the host differs); for an orphan, what OVSDB holds.
import type { VifStatusRow } from '../api/protocol.js';
import type { VifReport } from '../engine/reconcile.js';
import { describeVlan } from '../model/vlan.js';

/** A status row is the protocol's (vifctl reads it): one definition, in src/api/protocol.ts. */
export type VifStatus = VifStatusRow;

export function vifStatus(report: VifReport & { readonly domain: string | null }): VifStatus {
  const seen = report.seen;
  const common = { domain: report.domain, uuid: report.vmUuid, index: report.index, device: report.device, kind: report.desired?.kind ?? report.observed?.kind ?? 'tap',
    state: report.state, drift: report.drift, problems: report.problems, ofport: seen?.ofport ?? null, ...(seen?.vf === undefined ? {} : { vf: seen.vf }) };
  const desired = report.desired;
  if (desired !== null) {
    const vlan = desired.vlan;
    const tag = vlan.mode === 'none' || vlan.mode === 'trunk' ? null : vlan.tag;
    const trunks = vlan.mode === 'none' || vlan.mode === 'access' ? [] : vlan.trunks ?? [];
    return { ...common, network: desired.network, mac: desired.mac, bridge: desired.bridge, vlan: describeVlan(vlan), tag, trunks, mtu: desired.mtu ?? null };
  }
  return { ...common, network: seen?.network ?? null, mac: seen?.mac ?? null, bridge: seen?.bridge ?? null,
    vlan: seen?.vlan ?? '-', tag: seen?.tag ?? null, trunks: seen?.trunks ?? [], mtu: seen?.mtu ?? null };
}
