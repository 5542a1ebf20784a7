// The host side of a Xen device as Xen's own scripts leave it (vif-real,
// xen-network-common.sh's _setup_bridge_port): the MAC fe:ff:ff:ff:ff:ff (the
// numerically largest non-broadcast address, so no bridge ever takes it for
// its own), the MTU the toolstack asked for, and the link up. Pure.
import type { LinkSettings, LinkState } from '../../host/net-devices.js';
import type { Drift } from '../../model/drift.js';
import type { NetbackDesiredVif } from './specs.js';

export const XEN_HOST_SIDE_MAC = 'fe:ff:ff:ff:ff:ff';

export function netbackLinkSettings(vif: NetbackDesiredVif): Required<Pick<LinkSettings, 'mac' | 'up'>> & LinkSettings {
  return vif.mtu === undefined ? { mac: XEN_HOST_SIDE_MAC, up: true } : { mac: XEN_HOST_SIDE_MAC, up: true, mtu: vif.mtu };
}

/** What differs between the device's link and Xen's settings, one record per field (link.mac, link.mtu, link.up). */
export function netbackLinkDrift(vif: NetbackDesiredVif, seen: LinkState): Drift[] {
  const want = netbackLinkSettings(vif);
  const drift: Drift[] = [];
  if (seen.mac !== want.mac) drift.push({ field: 'link.mac', wanted: want.mac, seen: seen.mac });
  if (want.mtu !== undefined && seen.mtu !== want.mtu) drift.push({ field: 'link.mtu', wanted: String(want.mtu), seen: String(seen.mtu) });
  if (!seen.up) drift.push({ field: 'link.up', wanted: 'up', seen: 'down' });
  return drift;
}

export const isLinkDrift = (drift: Drift): boolean => drift.field.startsWith('link.');
