// What vifd owns of a Xen device: its OVS port, told apart from a TAP port by
// the kind mark vifd wrote (never by the device's name), and the link state
// vifd set on the device (null when the device is gone).
import type { LinkState } from '../../host/net-devices.js';
import { EXTERNAL_ID } from '../../host/ovsdb/ports.js';
import type { OwnedPort } from '../../host/ovsdb/ports.js';
import type { OwnedVif, SeenSummary } from '../kind.js';
import { NETBACK_KIND } from './specs.js';

export interface ObservedNetbackVif extends OwnedVif {
  readonly kind: 'netback';
  readonly port: OwnedPort;
  /** The device netback or the toolstack made still exists. */
  readonly present: boolean;
  /** The device's MAC, MTU and up flag; null when it is gone. */
  readonly link: LinkState | null;
}

export const isNetbackPort = (port: OwnedPort): boolean => port.externalIds[EXTERNAL_ID.kind] === NETBACK_KIND;

export function observeNetbackVifs(ports: readonly OwnedPort[], readLink: (device: string) => LinkState | null): ObservedNetbackVif[] {
  return ports.filter(isNetbackPort).map((port): ObservedNetbackVif => {
    const index = port.externalIds[EXTERNAL_ID.vifIndex];
    const link = readLink(port.name);
    return {
      kind: 'netback', device: port.name, port, present: link !== null, link,
      vmUuid: port.externalIds[EXTERNAL_ID.vmUuid] ?? null,
      index: index !== undefined && /^\d{1,4}$/.test(index) ? Number(index) : null,
    };
  }).sort((a, b) => a.device.localeCompare(b.device));
}

export function describeNetbackVif(seen: ObservedNetbackVif): SeenSummary {
  const port = seen.port;
  const ids = port.externalIds;
  const mode = port.vlanMode ?? (port.tag !== null ? 'access' : null);
  const vlan = mode === null ? 'untagged'
    : `${mode}${port.tag === null ? '' : ` ${port.tag}`}${port.trunks.length > 0 ? ` trunks ${port.trunks.join(',')}` : ''}`;
  return {
    network: ids[EXTERNAL_ID.network] ?? null, mac: ids[EXTERNAL_ID.attachedMac] ?? null, bridge: port.bridge,
    vlan, tag: port.tag, trunks: port.trunks, mtu: port.mtuRequest, ofport: port.ofport,
  };
}
