// How a Xen device's port differs from the desired one (pure): the port's
// columns through the OVSDB module's one diff, the device's link (MAC, MTU,
// up) against Xen's settings, or a record when the device itself is gone
// (vifd cannot make it again; its source then stops wanting it).
import { diffPort } from '../../host/ovsdb/ports.js';
import type { Drift } from '../../model/drift.js';
import { netbackLinkDrift } from './link.js';
import type { ObservedNetbackVif } from './observe.js';
import { netbackPortSpec } from './specs.js';
import type { NetbackDesiredVif } from './specs.js';

export const DEVICE_FIELD = 'device';

export function netbackVifDrift(want: NetbackDesiredVif, seen: ObservedNetbackVif | undefined): Drift[] {
  if (seen === undefined) return [{ field: 'port', wanted: want.device, seen: 'none' }];
  const device: Drift[] = seen.link === null ? [{ field: DEVICE_FIELD, wanted: want.device, seen: 'none' }] : netbackLinkDrift(want, seen.link);
  const error = seen.port.error;
  return [...device, ...diffPort(netbackPortSpec(want), seen.port), ...(error === null || seen.link === null ? [] : [{ field: 'interface.error', wanted: 'none', seen: error }])];
}
