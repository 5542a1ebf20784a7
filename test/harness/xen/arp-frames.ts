// Ethernet frames for the trunk case (./tap-endpoint.ts): a broadcast ARP
// request with or without an 802.1Q header, and the ARP reply read back with
// the VLAN it arrived on. Pure: no device, no I/O.
const ETH_P_8021Q = 0x8100;
const ETH_P_ARP = 0x0806;
const ETH_P_IP = 0x0800;

export interface ArpReply {
  /** The 802.1Q VLAN the reply arrived with, null for an untagged frame. */
  readonly vlan: number | null;
  readonly senderIp: string;
  readonly senderMac: string;
}

const macBytes = (mac: string): Buffer => Buffer.from(mac.split(':').map((part) => Number.parseInt(part, 16)));
const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));
const macText = (bytes: Buffer): string => [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(':');

/** A broadcast ARP request asking for `targetIp`, with an 802.1Q header when `vlan` is given. */
export function arpRequestFrame(spec: { senderMac: string; senderIp: string; targetIp: string; vlan: number | null }): Buffer {
  const tag = spec.vlan === null ? Buffer.alloc(0) : Buffer.from([ETH_P_8021Q >> 8, ETH_P_8021Q & 0xff, (spec.vlan >> 8) & 0x0f, spec.vlan & 0xff]);
  const arp = Buffer.concat([
    Buffer.from([0, 1, ETH_P_IP >> 8, ETH_P_IP & 0xff, 6, 4, 0, 1]),
    macBytes(spec.senderMac), ipBytes(spec.senderIp), Buffer.alloc(6), ipBytes(spec.targetIp),
  ]);
  return Buffer.concat([Buffer.alloc(6, 0xff), macBytes(spec.senderMac), tag, Buffer.from([ETH_P_ARP >> 8, ETH_P_ARP & 0xff]), arp]);
}

/** The ARP reply in a frame, or null for any other frame. */
export function parseArpReply(frame: Buffer): ArpReply | null {
  let offset = 12;
  let vlan: number | null = null;
  if (frame.length >= 18 && frame.readUInt16BE(offset) === ETH_P_8021Q) {
    vlan = frame.readUInt16BE(offset + 2) & 0x0fff;
    offset += 4;
  }
  if (frame.length < offset + 2 + 28 || frame.readUInt16BE(offset) !== ETH_P_ARP) return null;
  const arp = frame.subarray(offset + 2);
  if (arp.readUInt16BE(6) !== 2) return null;
  return { vlan, senderMac: macText(arp.subarray(8, 14)), senderIp: [...arp.subarray(14, 18)].join('.') };
}
