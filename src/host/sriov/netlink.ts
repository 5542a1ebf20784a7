// The VF side of rtnetlink as the VF effector sees it, and its kernel
// implementation over a NETLINK_ROUTE socket (rtnetlink-socket.ts). Tests use
// a fake with the same interface (test/harness/fake-sysfs/).
import type { VfAttribute } from '../../model/sriov/vf-settings.js';
import { describeAttribute } from '../../model/sriov/vf-settings.js';
import { VfNetlinkError } from './errors.js';
import type { LinkInfo, LinkTarget } from './rtnetlink-codec.js';
import { encodeGetLink, encodeSetVf } from './rtnetlink-codec.js';
import { RtnetlinkSocket } from './rtnetlink-socket.js';

export interface VfNetlink {
  /** The link with its VFs (RTM_GETLINK + RTEXT_FILTER_VF). */
  getLink(target: LinkTarget): Promise<LinkInfo>;
  /** One IFLA_VF_* attribute on VF `vf` of the PF with index `pfIndex` (RTM_SETLINK, acked). */
  setVf(pf: { readonly ifindex: number; readonly name: string }, vf: number, value: VfAttribute): Promise<void>;
  close(): void;
}

const targetName = (target: LinkTarget): string => ('ifname' in target ? target.ifname : `ifindex ${target.ifindex}`);

/** rtnetlink through vifd's own socket and codec (no ip(8), no iproute2 version dependence). */
export class KernelVfNetlink implements VfNetlink {
  private constructor(private readonly socket: RtnetlinkSocket) {}

  static open(): KernelVfNetlink {
    return new KernelVfNetlink(RtnetlinkSocket.open());
  }

  async getLink(target: LinkTarget): Promise<LinkInfo> {
    const seq = this.socket.nextSeq();
    const reply = await this.socket.request(encodeGetLink(seq, target, { vfs: true }), seq);
    if (reply.kind === 'link') return reply.link;
    const errno = reply.kind === 'error' ? reply.errno : 0;
    throw VfNetlinkError.refused({ pf: targetName(target) }, errno, 'RTM_GETLINK', reply.kind === 'error' ? reply.message : `unexpected ${reply.kind}`);
  }

  async setVf(pf: { readonly ifindex: number; readonly name: string }, vf: number, value: VfAttribute): Promise<void> {
    const seq = this.socket.nextSeq();
    const reply = await this.socket.request(encodeSetVf(seq, pf.ifindex, vf, value), seq);
    if (reply.kind === 'ack') return;
    const errno = reply.kind === 'error' ? reply.errno : 0;
    throw VfNetlinkError.refused({ pf: pf.name, vf, attribute: value.kind }, errno, `setting ${describeAttribute(value)}`, reply.kind === 'error' ? reply.message : `unexpected ${reply.kind}`);
  }

  close(): void {
    this.socket.close();
  }
}
