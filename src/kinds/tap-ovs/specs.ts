// A desired TAP VIF as the host's effectors take it: the TAP's settings and
// mark, and the OVSDB port with every column and external_id vifd writes.
import { EXTERNAL_ID, vifExternalIds } from '../../host/ovsdb/ports.js';
import type { VifPortSpec } from '../../host/ovsdb/ports.js';
import type { TapSpec } from '../../host/tap.js';
import type { DesiredVif } from '../../model/plan.js';
import { hostSideMac, tapAlias } from './observe.js';

export function tapSpec(vif: DesiredVif): TapSpec {
  const spec: TapSpec = { name: vif.device, mac: hostSideMac(vif.mac), up: true, alias: tapAlias(vif.vmUuid, vif.index) };
  return vif.mtu === undefined ? spec : { ...spec, mtu: vif.mtu };
}

export function portSpec(vif: DesiredVif): VifPortSpec {
  const spec: VifPortSpec = {
    bridge: vif.bridge, name: vif.device, vlan: vif.vlan,
    externalIds: { ...vifExternalIds({ vmUuid: vif.vmUuid, index: vif.index, mac: vif.mac }), [EXTERNAL_ID.network]: vif.network },
  };
  return vif.mtu === undefined ? spec : { ...spec, mtuRequest: vif.mtu };
}
