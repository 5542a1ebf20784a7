// The first VIF kind: a TAP vifd creates, marks and plugs into an Open
// vSwitch bridge with its VLANs, MTU and OVN external_ids (design: KVM/QEMU
// guests with <interface type='ethernet'> and managed='no').
import type { DesiredVif } from '../../model/plan.js';
import { deviceNamePrefix } from '../../model/names.js';
import type { VifKind } from '../kind.js';
import { tapVifDrift } from './diff.js';
import type { TapOvsHost } from './host.js';
import { describeTapVif, observeTapVifs } from './observe.js';
import type { ObservedTapVif } from './observe.js';
import { removalSteps, repairSteps } from './steps.js';
import type { TapOvsStep } from './steps.js';

export type { ObservedTapVif } from './observe.js';
export type { TapOvsStep } from './steps.js';
export type { TapOvsHost } from './host.js';

export function tapOvsKind(host: TapOvsHost): VifKind<DesiredVif, ObservedTapVif, TapOvsStep> {
  return {
    observe: (vmUuid) => {
      if (vmUuid === undefined) return observeTapVifs(host.ports.owned.all(), host.taps.list());
      // Only the VM's own TAPs are read, by the names already known: listing every
      // link costs milliseconds per thousand on a busy host, for each plug.
      const prefix = deviceNamePrefix(vmUuid);
      return observeTapVifs(host.ports.owned.ofVm(vmUuid), host.taps.listKnown((name) => name.startsWith(prefix)));
    },
    diff: tapVifDrift,
    repair: repairSteps,
    remove: removalSteps,
    describe: describeTapVif,
    macUsers: (mac) => host.ports.owned.macUsers(mac),
  };
}
