// The first VIF kind: a TAP vifd creates, marks and plugs into an Open
// vSwitch bridge with its VLANs, MTU and OVN external_ids (design: KVM/QEMU
// guests with <interface type='ethernet'> and managed='no').
import type { DesiredOf } from '../../model/plan.js';
import { EXTERNAL_ID } from '../../host/ovsdb/ports.js';
import type { OwnedPort } from '../../host/ovsdb/ports.js';
import { deviceNamePrefix } from '../../model/names.js';
import type { VifKind } from '../kind.js';
import { tapVifDrift } from './diff.js';
import type { TapOvsHost } from './host.js';
import { describeTapVif, observeTapVifs } from './observe.js';
import type { ObservedTapVif } from './observe.js';
import { removalSteps, repairSteps } from './steps.js';
import type { TapOvsStep } from './steps.js';

/** A desired VIF of this kind. */
type TapDesiredVif = DesiredOf<'tap'>;

export type { ObservedTapVif } from './observe.js';
export type { TapOvsStep } from './steps.js';
export type { TapOvsHost } from './host.js';

/**
 * TAP ports carry no kind mark (they predate kinds) or the TAP's own; a port
 * another kind marked (a Xen device's) is never this kind's, whatever its name.
 */
export const isTapPort = (port: OwnedPort): boolean => (port.externalIds[EXTERNAL_ID.kind] ?? 'tap') === 'tap';
const tapPorts = (ports: readonly OwnedPort[]): OwnedPort[] => ports.filter(isTapPort);

export function tapOvsKind(host: TapOvsHost): VifKind<TapDesiredVif, ObservedTapVif, TapOvsStep> {
  return {
    observe: (vmUuid) => {
      if (vmUuid === undefined) return observeTapVifs(tapPorts(host.ports.owned.all()), host.taps.list());
      // Only the VM's own TAPs are read, by the names already known: listing every
      // link costs milliseconds per thousand on a busy host, for each plug.
      const prefix = deviceNamePrefix(vmUuid);
      return observeTapVifs(tapPorts(host.ports.owned.ofVm(vmUuid)), host.taps.listKnown((name) => name.startsWith(prefix)));
    },
    diff: tapVifDrift,
    repair: repairSteps,
    remove: removalSteps,
    describe: describeTapVif,
    // Only this kind's ports: another kind says itself who holds a MAC through its ports.
    macUsers: (mac) => host.ports.owned.macUsers(mac, isTapPort),
  };
}
