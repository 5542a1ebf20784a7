// The PF driver's side of rtnetlink for the fake kernel: VF settings as the
// igb driver keeps them (measured in research/sriov.md §4c): link_state ->
// EOPNOTSUPP, 802.1ad -> EPROTONOSUPPORT, qos > 7 or a VF index past numvfs
// -> EINVAL, a zero MAC accepted; a PF that is down accepts and ignores; VFs
// made again come back wiped. Faults can be injected per attribute.
import { constants } from 'node:os';
import { VfNetlinkError } from '../../../src/host/sriov/errors.js';
import type { VfNetlink } from '../../../src/host/sriov/netlink.js';
import type { LinkInfo, LinkTarget } from '../../../src/host/sriov/rtnetlink-codec.js';
import type { VfAttribute, VfAttributeKind, VfNetConfig } from '../../../src/model/sriov/vf-settings.js';
import { describeAttribute } from '../../../src/model/sriov/vf-settings.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface FakePfLink {
  readonly address: string;
  readonly name: string;
  readonly ifindex: number;
  up: boolean;
  vfs: Mutable<VfNetConfig>[];
}

export type Fault = { readonly errno: number } | 'ignore';

const fresh = (index: number): Mutable<VfNetConfig> => ({
  index, mac: '00:00:00:00:00:00', vlan: 0, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 0,
});

const { EINVAL, ENODEV, EOPNOTSUPP, EPROTONOSUPPORT } = constants.errno;

export class FakeVfNetlink implements VfNetlink {
  private readonly links = new Map<string, FakePfLink>();
  private nextIndex = 10;
  private readonly faults = new Map<VfAttributeKind, Fault[]>();
  /** Every setVf call, in order: "<pf> vf <n> <attribute>". */
  readonly calls: string[] = [];
  closed = false;

  addPf(address: string, name: string): void {
    this.links.set(address, { address, name, ifindex: this.nextIndex++, up: true, vfs: [] });
  }

  resetVfs(address: string, count: number): void {
    const link = this.links.get(address);
    if (link !== undefined) link.vfs = Array.from({ length: count }, (_, index) => fresh(index));
  }

  setPfUp(name: string, up: boolean): void {
    this.byName(name).up = up;
  }

  /** The next set of `kind` fails with `errno` or is acked and not applied ('ignore'). */
  injectFault(kind: VfAttributeKind, fault: Fault): void {
    this.faults.set(kind, [...(this.faults.get(kind) ?? []), fault]);
  }

  /** The driver's view of one VF (what an operator's `ip link show` would print). */
  vf(name: string, index: number): VfNetConfig {
    const vf = this.byName(name).vfs[index];
    if (vf === undefined) throw new Error(`no VF ${index} on ${name}`);
    return { ...vf };
  }

  /** Changes a VF behind vifd's back (an operator, another tool). */
  tamper(name: string, index: number, change: Partial<VfNetConfig>): void {
    Object.assign(this.byName(name).vfs[index] ?? {}, change);
  }

  private byName(name: string): FakePfLink {
    const link = [...this.links.values()].find((candidate) => candidate.name === name);
    if (link === undefined) throw new Error(`no fake PF netdev ${name}`);
    return link;
  }

  getLink(target: LinkTarget): Promise<LinkInfo> {
    const link = [...this.links.values()].find((candidate) => ('ifname' in target ? candidate.name === target.ifname : candidate.ifindex === target.ifindex));
    if (link === undefined) return Promise.reject(VfNetlinkError.refused({ pf: 'ifname' in target ? target.ifname : `ifindex ${target.ifindex}` }, ENODEV, 'RTM_GETLINK'));
    return Promise.resolve({ ifindex: link.ifindex, ifname: link.name, mtu: 1500, numVfs: link.vfs.length, vfs: link.vfs.map((vf) => ({ ...vf })) });
  }

  setVf(pf: { readonly ifindex: number; readonly name: string }, index: number, value: VfAttribute): Promise<void> {
    this.calls.push(`${pf.name} vf ${index} ${value.kind}`);
    const fail = (errno: number): Promise<void> =>
      Promise.reject(VfNetlinkError.refused({ pf: pf.name, vf: index, attribute: value.kind }, errno, `setting ${describeAttribute(value)}`));
    const link = [...this.links.values()].find((candidate) => candidate.ifindex === pf.ifindex);
    if (link === undefined) return fail(ENODEV);
    const fault = this.faults.get(value.kind)?.shift();
    if (fault !== undefined && fault !== 'ignore') return fail(fault.errno);
    const vf = link.vfs[index];
    if (vf === undefined) return fail(EINVAL);
    const refusal = igbRefusal(value);
    if (refusal !== undefined) return fail(refusal);
    if (fault === 'ignore' || !link.up) return Promise.resolve();
    apply(vf, value);
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
  }
}

function igbRefusal(value: VfAttribute): number | undefined {
  if (value.kind === 'link-state') return EOPNOTSUPP;
  if (value.kind === 'vlan' && value.protocol === '802.1ad') return EPROTONOSUPPORT;
  if (value.kind === 'vlan' && (value.vlan > 4095 || value.qos > 7)) return EINVAL;
  return undefined;
}

function apply(vf: Mutable<VfNetConfig>, value: VfAttribute): void {
  switch (value.kind) {
    case 'mac': vf.mac = value.mac.toLowerCase(); break;
    case 'vlan': vf.vlan = value.vlan; vf.qos = value.qos; vf.vlanProtocol = value.protocol; break;
    case 'spoofchk': vf.spoofchk = value.on; break;
    case 'trust': vf.trust = value.on; break;
    case 'link-state': vf.linkState = value.state; break;
    case 'rate': vf.minTxRate = value.minTxRate; vf.maxTxRate = value.maxTxRate; break;
  }
}
