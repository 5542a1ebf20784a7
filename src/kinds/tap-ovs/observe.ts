// What vifd owns of a TAP VIF: its OVSDB port (owned through external_ids)
// and its TAP (marked with vifd's ifalias), joined by device name. Ownership
// is read from the marks, never guessed from a name.
import type { OwnedPort } from '../../host/ovsdb/ports.js';
import type { TapState } from '../../host/tap.js';
import { EXTERNAL_ID } from '../../host/ovsdb/ports.js';
import type { OwnedVif, SeenSummary } from '../kind.js';

/** vifd's mark on a TAP (its ifalias): `vifd:<vm-uuid>/<index>`. */
export const TAP_ALIAS_PREFIX = 'vifd:';
export const tapAlias = (vmUuid: string, index: number): string => `${TAP_ALIAS_PREFIX}${vmUuid}/${index}`;

export function parseTapAlias(alias: string | null): { vmUuid: string; index: number } | null {
  const match = alias === null ? null : /^vifd:([0-9a-f-]{36})\/(\d{1,3})$/.exec(alias);
  if (match === null) return null;
  return { vmUuid: match[1] ?? '', index: Number(match[2]) };
}

/**
 * The TAP's own MAC: the guest's with the first octet 0xfe, as libvirt does for
 * the TAPs it makes, so the host side never answers for the guest's address.
 */
export const hostSideMac = (guestMac: string): string => `fe${guestMac.slice(2)}`;

export interface ObservedTapVif extends OwnedVif {
  readonly kind: 'tap';
  readonly port: OwnedPort | null;
  readonly tap: TapState | null;
}

/** Joins vifd-owned ports and TAPs by device name; TAPs without vifd's alias are not ours. */
export function observeTapVifs(ports: readonly OwnedPort[], taps: readonly TapState[]): ObservedTapVif[] {
  const byDevice = new Map<string, { port: OwnedPort | null; tap: TapState | null }>();
  for (const port of ports) byDevice.set(port.name, { port, tap: null });
  for (const tap of taps) {
    if (parseTapAlias(tap.alias) === null) continue;
    byDevice.set(tap.name, { port: byDevice.get(tap.name)?.port ?? null, tap });
  }
  return [...byDevice].map(([device, { port, tap }]): ObservedTapVif => {
    const fromTap = parseTapAlias(tap?.alias ?? null);
    const portIndex = port?.externalIds[EXTERNAL_ID.vifIndex];
    return {
      kind: 'tap', device, port, tap,
      vmUuid: port?.externalIds[EXTERNAL_ID.vmUuid] ?? fromTap?.vmUuid ?? null,
      index: portIndex !== undefined && /^\d{1,3}$/.test(portIndex) ? Number(portIndex) : fromTap?.index ?? null,
    };
  }).sort((a, b) => a.device.localeCompare(b.device));
}

/** What status shows of a TAP VIF from what the host holds (its port's columns, else its TAP). */
export function describeTapVif(seen: ObservedTapVif): SeenSummary {
  const port = seen.port;
  const ids = port?.externalIds ?? {};
  const mode = port?.vlanMode ?? (port?.tag != null ? 'access' : null);
  const vlan = port === null ? '-' : mode === null ? 'untagged'
    : `${mode}${port.tag === null ? '' : ` ${port.tag}`}${port.trunks.length > 0 ? ` trunks ${port.trunks.join(',')}` : ''}`;
  return {
    network: ids[EXTERNAL_ID.network] ?? null, mac: ids[EXTERNAL_ID.attachedMac] ?? null, bridge: port?.bridge ?? null,
    vlan, tag: port?.tag ?? null, trunks: port?.trunks ?? [], mtu: seen.tap?.mtu ?? null, ofport: port?.ofport ?? null,
  };
}
