// `ip -json -details link show` of a PF (iproute2 6.1, run in the guest), read
// into vifd's own VF shape so a test compares vifd's rtnetlink read-back with
// iproute2's view of the same kernel answer.
import type { VfNetConfig } from '../../../src/model/sriov/vf-settings.js';

interface IpVfInfo {
  readonly vf: number;
  readonly address: string;
  /** [{}] when the VF is untagged. */
  readonly vlan_list?: readonly { readonly vlan?: number; readonly qos?: number; readonly protocol?: string }[];
  readonly rate?: { readonly max_tx?: number; readonly min_tx?: number };
  readonly spoofchk?: boolean;
  readonly trust?: boolean;
  readonly link_state?: string;
}

interface IpLink {
  readonly ifname: string;
  readonly num_vf?: number;
  readonly vfinfo_list?: readonly IpVfInfo[];
}

/** The PF's VFs as ip shows them, in vifd's VfNetConfig shape. */
export function vfsFromIpJson(stdout: string): VfNetConfig[] {
  const [link] = JSON.parse(stdout) as IpLink[];
  if (link === undefined) throw new Error(`ip -json printed no link: ${stdout}`);
  return (link.vfinfo_list ?? []).map((vf) => {
    const vlan = vf.vlan_list?.[0] ?? {};
    return {
      index: vf.vf,
      mac: vf.address.toLowerCase(),
      vlan: vlan.vlan ?? 0,
      qos: vlan.qos ?? 0,
      vlanProtocol: vlan.protocol === '802.1ad' ? '802.1ad' : '802.1Q',
      ...(vf.spoofchk === undefined ? {} : { spoofchk: vf.spoofchk }),
      ...(vf.trust === undefined ? {} : { trust: vf.trust }),
      ...(vf.link_state === undefined ? {} : { linkState: vf.link_state.toLowerCase() as VfNetConfig['linkState'] }),
      ...(vf.rate === undefined ? {} : { minTxRate: vf.rate.min_tx ?? 0, maxTxRate: vf.rate.max_tx ?? 0 }),
    };
  });
}
