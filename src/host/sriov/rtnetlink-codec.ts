// The rtnetlink messages the VF effector exchanges with the kernel, as bytes:
// RTM_GETLINK with IFLA_EXT_MASK=RTEXT_FILTER_VF, its RTM_NEWLINK answer with
// IFLA_VFINFO_LIST, and RTM_SETLINK carrying one IFLA_VF_* attribute. Pure:
// bytes in, bytes out. Netlink uses host byte order; vifd runs on little-endian
// hosts (x86-64, aarch64), so the codec is little-endian except where the
// kernel says __be16 (the VLAN protocol).
import type { LinkState, VfAttribute, VfNetConfig, VlanProtocol } from '../../model/sriov/vf-settings.js';

export const NETLINK_ROUTE = 0;
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLMSG_HEADER = 16;
const IFINFOMSG = 16;
const RTA_HEADER = 4;
const NLA_TYPE_MASK = 0x3fff;

export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, OPERSTATE: 16, NUM_VF: 21, VFINFO_LIST: 22, EXT_MASK: 29 } as const;
export const IFLA_VF_INFO = 1;
export const IFLA_VF = {
  MAC: 1, VLAN: 2, TX_RATE: 3, SPOOFCHK: 4, LINK_STATE: 5, RATE: 6, TRUST: 9, VLAN_LIST: 12,
} as const;
const IFLA_VF_VLAN_INFO = 1;
export const RTEXT_FILTER_VF = 1 << 0;
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;
const ETH_P_8021AD = 0x88a8;
/** spoofchk / trust the driver does not report come back as -1 (the kernel's preset). */
const NOT_REPORTED = 0xffffffff;
const LINK_STATE_CODES: readonly LinkState[] = ['auto', 'enable', 'disable'];
/** struct ifla_vf_mac carries 32 bytes of address (InfiniBand GUIDs); Ethernet uses 6. */
const VF_MAC_BYTES = 32;

const align4 = (length: number): number => (length + 3) & ~3;

/** One attribute: header + payload, padded to 4 bytes. */
export function attribute(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(align4(RTA_HEADER + payload.length));
  out.writeUInt16LE(RTA_HEADER + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, RTA_HEADER);
  return out;
}

const u32s = (...values: number[]): Buffer => {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((value, at) => out.writeUInt32LE(value >>> 0, at * 4));
  return out;
};

function message(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(NLMSG_HEADER);
  header.writeUInt32LE(NLMSG_HEADER + payload.length, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(flags, 6);
  header.writeUInt32LE(seq >>> 0, 8);
  header.writeUInt32LE(0, 12); // pid 0: the kernel
  return Buffer.concat([header, payload]);
}

function ifinfomsg(ifindex: number): Buffer {
  const out = Buffer.alloc(IFINFOMSG); // family AF_UNSPEC, type 0, flags 0, change 0
  out.writeInt32LE(ifindex, 4);
  return out;
}

export type LinkTarget = { readonly ifindex: number } | { readonly ifname: string };

/** RTM_GETLINK for one link; with `vfs`, the answer carries IFLA_VFINFO_LIST (no per-VF statistics). */
export function encodeGetLink(seq: number, target: LinkTarget, options: { vfs: boolean }): Buffer {
  const parts = [ifinfomsg('ifindex' in target ? target.ifindex : 0)];
  if ('ifname' in target) parts.push(attribute(IFLA.IFNAME, Buffer.from(`${target.ifname}\0`, 'utf8')));
  if (options.vfs) parts.push(attribute(IFLA.EXT_MASK, u32s(RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS)));
  return message(RTM_GETLINK, NLM_F_REQUEST, seq, Buffer.concat(parts));
}

function macBytes(mac: string): Buffer {
  const out = Buffer.alloc(VF_MAC_BYTES);
  Buffer.from(mac.split(':').map((byte) => Number.parseInt(byte, 16))).copy(out);
  return out;
}

/** The IFLA_VF_* attribute (type + payload) that sets `value` on VF `vf`. */
export function vfAttribute(vf: number, value: VfAttribute): Buffer {
  switch (value.kind) {
    case 'mac': return attribute(IFLA_VF.MAC, Buffer.concat([u32s(vf), macBytes(value.mac)]));
    case 'vlan': {
      if (value.protocol === '802.1Q') return attribute(IFLA_VF.VLAN, u32s(vf, value.vlan, value.qos));
      // 802.1ad only exists in IFLA_VF_VLAN_LIST: struct ifla_vf_vlan_info {u32 vf, vlan, qos; __be16 proto} (16 bytes).
      const info = Buffer.alloc(16);
      u32s(vf, value.vlan, value.qos).copy(info);
      info.writeUInt16BE(ETH_P_8021AD, 12);
      return attribute(IFLA_VF.VLAN_LIST, attribute(IFLA_VF_VLAN_INFO, info));
    }
    case 'spoofchk': return attribute(IFLA_VF.SPOOFCHK, u32s(vf, value.on ? 1 : 0));
    case 'trust': return attribute(IFLA_VF.TRUST, u32s(vf, value.on ? 1 : 0));
    case 'link-state': return attribute(IFLA_VF.LINK_STATE, u32s(vf, LINK_STATE_CODES.indexOf(value.state)));
    case 'rate': return attribute(IFLA_VF.RATE, u32s(vf, value.minTxRate, value.maxTxRate));
  }
}

/** RTM_SETLINK on the PF with IFLA_VFINFO_LIST { IFLA_VF_INFO { one attribute } }, asking for an ack. */
export function encodeSetVf(seq: number, pfIndex: number, vf: number, value: VfAttribute): Buffer {
  return encodeSetVfAttributes(seq, pfIndex, vf, [value]);
}

/**
 * RTM_SETLINK with several IFLA_VF_* attributes in one IFLA_VF_INFO. vifd
 * itself never sends this (the kernel applies them one by one and a failure
 * half-way leaves the earlier ones applied); the SR-IOV bench's floor does.
 */
export function encodeSetVfAttributes(seq: number, pfIndex: number, vf: number, values: readonly VfAttribute[]): Buffer {
  const list = attribute(IFLA.VFINFO_LIST, attribute(IFLA_VF_INFO, Buffer.concat(values.map((value) => vfAttribute(vf, value)))));
  return message(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, Buffer.concat([ifinfomsg(pfIndex), list]));
}

// ---- decoding ----

export interface LinkInfo {
  readonly ifindex: number;
  readonly ifname?: string;
  readonly mtu?: number;
  /** The link-layer address, lowercase hex with colons. */
  readonly address?: string;
  readonly operstate?: number;
  /** IFLA_NUM_VF: the real VF count even when the VF list was truncated. */
  readonly numVfs?: number;
  readonly vfs: readonly VfNetConfig[];
}

export type NetlinkMessage =
  | { readonly kind: 'ack'; readonly seq: number }
  | { readonly kind: 'error'; readonly seq: number; readonly errno: number; readonly message?: string }
  | { readonly kind: 'link'; readonly seq: number; readonly link: LinkInfo }
  | { readonly kind: 'done'; readonly seq: number }
  | { readonly kind: 'other'; readonly seq: number; readonly type: number };

/** A reply that is not what netlink promises (truncated, lengths out of range). */
export class NetlinkDecodeError extends Error {
  override readonly name = 'NetlinkDecodeError';
}

/** Attributes of `buffer` by type (the last one wins; nested flag bits dropped). */
export function parseAttributes(buffer: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const [type, payload] of attributeList(buffer)) out.set(type, payload);
  return out;
}

/** Attributes in order, for lists where a type repeats (IFLA_VF_INFO). */
export function attributeList(buffer: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  let at = 0;
  while (at + RTA_HEADER <= buffer.length) {
    const length = buffer.readUInt16LE(at);
    if (length < RTA_HEADER || at + length > buffer.length) throw new NetlinkDecodeError(`attribute at byte ${at} claims ${length} bytes of ${buffer.length - at}`);
    out.push([buffer.readUInt16LE(at + 2) & NLA_TYPE_MASK, buffer.subarray(at + RTA_HEADER, at + length)]);
    at += align4(length);
  }
  return out;
}

const hex = (bytes: Buffer): string => [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
const u32At = (payload: Buffer | undefined, offset: number): number | undefined =>
  payload !== undefined && payload.length >= offset + 4 ? payload.readUInt32LE(offset) : undefined;
const flag = (value: number | undefined): boolean | undefined => (value === undefined || value === NOT_REPORTED ? undefined : value !== 0);

function decodeVlan(attrs: Map<number, Buffer>): { vlan: number; qos: number; vlanProtocol: VlanProtocol } {
  const listed = attrs.get(IFLA_VF.VLAN_LIST);
  const info = listed === undefined ? undefined : parseAttributes(listed).get(IFLA_VF_VLAN_INFO);
  if (info !== undefined && info.length >= 14) {
    return { vlan: info.readUInt32LE(4), qos: info.readUInt32LE(8), vlanProtocol: info.readUInt16BE(12) === ETH_P_8021AD ? '802.1ad' : '802.1Q' };
  }
  const vlan = attrs.get(IFLA_VF.VLAN);
  return { vlan: u32At(vlan, 4) ?? 0, qos: u32At(vlan, 8) ?? 0, vlanProtocol: '802.1Q' };
}

/** One IFLA_VF_INFO nest; the VF index comes from struct ifla_vf_mac. */
export function decodeVfInfo(nest: Buffer): VfNetConfig {
  const attrs = parseAttributes(nest);
  const mac = attrs.get(IFLA_VF.MAC);
  if (mac === undefined || mac.length < 10) throw new NetlinkDecodeError('IFLA_VF_INFO without IFLA_VF_MAC');
  const linkCode = u32At(attrs.get(IFLA_VF.LINK_STATE), 4);
  const rate = attrs.get(IFLA_VF.RATE);
  const spoofchk = flag(u32At(attrs.get(IFLA_VF.SPOOFCHK), 4));
  const trust = flag(u32At(attrs.get(IFLA_VF.TRUST), 4));
  const linkState = linkCode === undefined ? undefined : LINK_STATE_CODES[linkCode];
  const minTxRate = u32At(rate, 4);
  const maxTxRate = u32At(rate, 8);
  return {
    index: mac.readUInt32LE(0),
    mac: hex(mac.subarray(4, 10)),
    ...decodeVlan(attrs),
    ...(spoofchk === undefined ? {} : { spoofchk }),
    ...(trust === undefined ? {} : { trust }),
    ...(linkState === undefined ? {} : { linkState }),
    ...(minTxRate === undefined ? {} : { minTxRate }),
    ...(maxTxRate === undefined ? {} : { maxTxRate }),
  };
}

function decodeLink(payload: Buffer): LinkInfo {
  if (payload.length < IFINFOMSG) throw new NetlinkDecodeError(`RTM_NEWLINK of ${payload.length} bytes`);
  const attrs = parseAttributes(payload.subarray(IFINFOMSG));
  const name = attrs.get(IFLA.IFNAME);
  const address = attrs.get(IFLA.ADDRESS);
  const mtu = u32At(attrs.get(IFLA.MTU), 0);
  const numVfs = u32At(attrs.get(IFLA.NUM_VF), 0);
  const operstate = attrs.get(IFLA.OPERSTATE)?.[0];
  const list = attrs.get(IFLA.VFINFO_LIST);
  const vfs = list === undefined ? [] : attributeList(list).filter(([type]) => type === IFLA_VF_INFO).map(([, nest]) => decodeVfInfo(nest));
  return {
    ifindex: payload.readInt32LE(4),
    ...(name === undefined ? {} : { ifname: name.toString('utf8').replace(/\0.*$/s, '') }),
    ...(mtu === undefined ? {} : { mtu }),
    ...(address === undefined ? {} : { address: hex(address) }),
    ...(operstate === undefined ? {} : { operstate }),
    ...(numVfs === undefined ? {} : { numVfs }),
    vfs,
  };
}

const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

/** The kernel's extended-ack text (NETLINK_EXT_ACK), after the echoed request. */
function extAckMessage(flags: number, payload: Buffer): string | undefined {
  if ((flags & NLM_F_ACK_TLVS) === 0 || payload.length < 4 + NLMSG_HEADER) return undefined;
  const echoed = (flags & NLM_F_CAPPED) !== 0 ? NLMSG_HEADER : align4(payload.readUInt32LE(4));
  const text = parseAttributes(payload.subarray(Math.min(payload.length, 4 + echoed))).get(NLMSGERR_ATTR_MSG);
  return text?.toString('utf8').replace(/\0.*$/s, '');
}

function decodeOne(type: number, flags: number, seq: number, payload: Buffer): NetlinkMessage {
  if (type === NLMSG_ERROR) {
    if (payload.length < 4) throw new NetlinkDecodeError('NLMSG_ERROR without an error code');
    const code = payload.readInt32LE(0);
    if (code === 0) return { kind: 'ack', seq };
    const message = extAckMessage(flags, payload);
    return message === undefined ? { kind: 'error', seq, errno: -code } : { kind: 'error', seq, errno: -code, message };
  }
  if (type === NLMSG_DONE) return { kind: 'done', seq };
  if (type === RTM_NEWLINK) return { kind: 'link', seq, link: decodeLink(payload) };
  return { kind: 'other', seq, type };
}

/** Every netlink message in one datagram. */
export function decodeMessages(buffer: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let at = 0;
  while (at + NLMSG_HEADER <= buffer.length) {
    const length = buffer.readUInt32LE(at);
    if (length < NLMSG_HEADER || at + length > buffer.length) throw new NetlinkDecodeError(`message at byte ${at} claims ${length} bytes of ${buffer.length - at}`);
    out.push(decodeOne(buffer.readUInt16LE(at + 4), buffer.readUInt16LE(at + 6), buffer.readUInt32LE(at + 8), buffer.subarray(at + NLMSG_HEADER, at + length)));
    at += align4(length);
  }
  return out;
}
