// How a TAP VIF on the host differs from the desired one (pure): the TAP's
// own settings here, the port's columns through the OVSDB module's one diff.
import type { Drift } from '../../model/drift.js';
import type { DesiredOf } from '../../model/plan.js';
import { diffPort } from '../../host/ovsdb/ports.js';
import { hostSideMac } from './observe.js';
import type { ObservedTapVif } from './observe.js';
import { portSpec } from './specs.js';

/** A desired VIF of this kind. */
type TapDesiredVif = DesiredOf<'tap'>;

/** Drift fields that a TAP repair (not only a port update) fixes. */
export const TAP_FIELDS = new Set(['tap', 'tap.mac', 'tap.mtu', 'tap.up']);

function tapDrift(want: TapDesiredVif, seen: ObservedTapVif | undefined): Drift[] {
  const tap = seen?.tap ?? null;
  if (tap === null) return [{ field: 'tap', wanted: want.device, seen: 'none' }];
  const drift: Drift[] = [];
  const mac = hostSideMac(want.mac);
  if (tap.mac !== mac) drift.push({ field: 'tap.mac', wanted: mac, seen: tap.mac });
  if (want.mtu !== undefined && tap.mtu !== want.mtu) drift.push({ field: 'tap.mtu', wanted: String(want.mtu), seen: String(tap.mtu) });
  if (!tap.up) drift.push({ field: 'tap.up', wanted: 'up', seen: 'down' });
  return drift;
}

/** Every difference, TAP first; [] when the VIF is as wanted. */
export function tapVifDrift(want: TapDesiredVif, seen: ObservedTapVif | undefined): Drift[] {
  const port = seen?.port ?? null;
  const portDrift: Drift[] = port === null ? [{ field: 'port', wanted: want.device, seen: 'none' }] : diffPort(portSpec(want), port);
  const error = port?.error ?? null;
  return [...tapDrift(want, seen), ...portDrift, ...(error === null ? [] : [{ field: 'interface.error', wanted: 'none', seen: error }])];
}
