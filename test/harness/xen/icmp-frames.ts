// IPv4 ICMP echo frames written on a TAP as a guest would, and the echo reply
// read back: proves a rule that matches on the IPv4 source (nw_src), which an
// ARP exchange alone does not. Pure: no device, no I/O.
const ETH_P_IP = 0x0800;
const IPPROTO_ICMP = 1;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;

const macBytes = (mac: string): Buffer => Buffer.from(mac.split(':').map((part) => Number.parseInt(part, 16)));
const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));

/** The Internet checksum (RFC 1071) of `data`. */
function checksum(data: Buffer): number {
  let sum = 0;
  for (let offset = 0; offset < data.length; offset += 2) sum += (data[offset] ?? 0) * 256 + (data[offset + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface EchoSpec {
  readonly srcMac: string;
  readonly dstMac: string;
  readonly srcIp: string;
  readonly dstIp: string;
  readonly id: number;
  readonly seq: number;
}

export function icmpEchoFrame(spec: EchoSpec): Buffer {
  const icmp = Buffer.concat([Buffer.from([ICMP_ECHO_REQUEST, 0, 0, 0, spec.id >> 8, spec.id & 0xff, spec.seq >> 8, spec.seq & 0xff]), Buffer.alloc(16, 0x5a)]);
  icmp.writeUInt16BE(checksum(icmp), 2);
  const ip = Buffer.concat([Buffer.from([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, IPPROTO_ICMP, 0, 0]), ipBytes(spec.srcIp), ipBytes(spec.dstIp)]);
  ip.writeUInt16BE(ip.length + icmp.length, 2);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([macBytes(spec.dstMac), macBytes(spec.srcMac), Buffer.from([ETH_P_IP >> 8, ETH_P_IP & 0xff]), ip, icmp]);
}

/** True for the echo reply to `spec` (from its destination, to its source, same id and sequence). */
export function isEchoReplyTo(frame: Buffer, spec: EchoSpec): boolean {
  if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== ETH_P_IP) return false;
  const ip = frame.subarray(14);
  const headerLength = ((ip[0] ?? 0) & 0x0f) * 4;
  if (ip[9] !== IPPROTO_ICMP || !ip.subarray(12, 16).equals(ipBytes(spec.dstIp)) || !ip.subarray(16, 20).equals(ipBytes(spec.srcIp))) return false;
  const icmp = ip.subarray(headerLength);
  return icmp[0] === ICMP_ECHO_REPLY && icmp.readUInt16BE(4) === spec.id && icmp.readUInt16BE(6) === spec.seq;
}
