// The Xen VIFs vifd plugged, read back from their ports (pure): after a
// restart the Xen source starts from these (design invariant 1: what vifd
// owns is recorded where it lives). Shaped as the source's RecoveredXenVif.
import { EXTERNAL_ID } from '../../host/ovsdb/ports.js';
import type { OwnedPort } from '../../host/ovsdb/ports.js';
import type { VlanSettings } from '../../model/vlan.js';
import type { NetbackVifIntent } from '../../model/vm-intent.js';
import { isNetbackPort } from './observe.js';
import { IPV4_ALLOWED_ID, IPV6_ALLOWED_ID, LOCKING_MODE_ID } from './specs.js';

function vlanOf(port: OwnedPort): VlanSettings {
  const mode = port.vlanMode ?? (port.tag !== null ? 'access' : port.trunks.length > 0 ? 'trunk' : null);
  if (mode === 'access' && port.tag !== null) return { mode, tag: port.tag };
  if (mode === 'trunk') return { mode, trunks: port.trunks };
  if ((mode === 'native-tagged' || mode === 'native-untagged') && port.tag !== null) {
    return port.trunks.length > 0 ? { mode, tag: port.tag, trunks: port.trunks } : { mode, tag: port.tag };
  }
  return { mode: 'none' };
}

const addressesOf = (text: string | undefined): string[] => (text === undefined || text === '' ? [] : text.split(','));

/** The mode and, when locked, the allowed addresses as recorded (the planner validates them again). */
function lockingOf(ids: Readonly<Record<string, string>>): Pick<NetbackVifIntent, 'lockingMode' | 'ipv4Allowed' | 'ipv6Allowed'> {
  if (ids[LOCKING_MODE_ID] === 'unlocked') return { lockingMode: 'unlocked' };
  if (ids[LOCKING_MODE_ID] !== 'locked') return {};
  return { lockingMode: 'locked', ipv4Allowed: addressesOf(ids[IPV4_ALLOWED_ID]), ipv6Allowed: addressesOf(ids[IPV6_ALLOWED_ID]) };
}

export interface RecoveredNetbackVif {
  readonly vmUuid: string;
  readonly vmName: string | null;
  readonly vif: NetbackVifIntent;
}

/** Every netback port with what its intent was; a port missing a key vifd writes is left out (its VM's reconcile removes it). */
export function recoverNetbackVifs(ports: readonly OwnedPort[]): RecoveredNetbackVif[] {
  return ports.filter(isNetbackPort).flatMap((port): RecoveredNetbackVif[] => {
    const ids = port.externalIds;
    const [vmUuid, index, mac, network] = [ids[EXTERNAL_ID.vmUuid], ids[EXTERNAL_ID.vifIndex], ids[EXTERNAL_ID.attachedMac], ids[EXTERNAL_ID.network]];
    if (vmUuid === undefined || index === undefined || !/^\d{1,4}$/.test(index) || mac === undefined || network === undefined || port.bridge === null) return [];
    const [xsVm, xsVif, xsNetwork] = [ids[EXTERNAL_ID.xsVmUuid], ids[EXTERNAL_ID.xsVifUuid], ids[EXTERNAL_ID.xsNetworkUuid]];
    const vmName = ids[EXTERNAL_ID.xenVmName];
    const vif: NetbackVifIntent = {
      index: Number(index), kind: 'netback', device: port.name, network, bridge: port.bridge, vlan: vlanOf(port), mac,
      ...(port.mtuRequest === null ? {} : { mtu: port.mtuRequest }), ...(vmName === undefined ? {} : { vmName }),
      ...(xsVm === undefined || xsVif === undefined || xsNetwork === undefined ? {} : { xapi: { vmUuid: xsVm, vifUuid: xsVif, networkUuid: xsNetwork } }),
      ...lockingOf(ids),
    };
    return [{ vmUuid, vmName: vmName ?? null, vif }];
  });
}
