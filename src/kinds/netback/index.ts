// The netback VIF kind: a device Xen made (netback's vifD.N, the toolstack's
// tapD.N or vifD.N-emu) that vifd attaches to an Open vSwitch bridge with its
// VLANs, MTU and the external_ids Xen's and XAPI's tools read, and detaches on
// unplug. What vifd owns is the port alone, marked with its kind.
import type { VifKind } from '../kind.js';
import { netbackVifDrift } from './diff.js';
import type { NetbackHost } from './host.js';
import { describeNetbackVif, isNetbackPort, observeNetbackVifs } from './observe.js';
import type { ObservedNetbackVif } from './observe.js';
import type { NetbackDesiredVif } from './specs.js';
import { netbackRemovalSteps, netbackRepairSteps } from './steps.js';
import type { NetbackStep } from './steps.js';

export type { ObservedNetbackVif } from './observe.js';
export type { NetbackStep } from './steps.js';
export type { NetbackHost } from './host.js';
export { isNetbackPort } from './observe.js';

export function netbackKind(host: NetbackHost): VifKind<NetbackDesiredVif, ObservedNetbackVif, NetbackStep> {
  const readLink = (device: string) => host.devices.read(device);
  return {
    observe: (vmUuid) => observeNetbackVifs(vmUuid === undefined ? host.ports.owned.all() : host.ports.owned.ofVm(vmUuid), readLink),
    diff: netbackVifDrift,
    repair: netbackRepairSteps,
    remove: netbackRemovalSteps,
    describe: describeNetbackVif,
    // A port whose device is gone (its domain died) is an orphan waiting for GC: its MAC is free again.
    macUsers: (mac) => host.ports.owned.macUsers(mac, (port) => isNetbackPort(port) && host.devices.exists(port.name)),
  };
}
