// The OpenFlow rules of a `locked` Xen VIF (XAPI's locking_mode), as data
// (pure): from the port, only frames with the guest's MAC and, for IP, a
// source address from ipv4-allowed / ipv6-allowed go on to the switch
// (actions=NORMAL); everything else from the port is dropped. Every rule
// carries the port's own cookie, so vifd finds and removes exactly its rules.
import { createHash } from 'node:crypto';
import { parseAllowedList } from '../../model/allowed-addresses.js';
import { InvalidInputError } from '../../model/errors.js';
import { parseMac } from '../../model/mac.js';

/** "vifd" in the cookie's high 32 bits: every rule vifd owns starts with it. */
export const VIFD_COOKIE_MARK = 0x76696664n;
/** Matches the mark alone, for finding every rule vifd owns on a bridge. */
export const VIFD_COOKIE_MASK = '0xffffffff00000000';

const DROP_PRIORITY = 100;
const ALLOW_PRIORITY = 110;
const OFPP_MAX = 0xff00;

export interface PortLock {
  /** The port's OpenFlow number (the Interface's ofport). */
  readonly ofport: number;
  readonly mac: string;
  readonly ipv4Allowed: readonly string[];
  readonly ipv6Allowed: readonly string[];
}

const hex = (value: bigint): string => `0x${value.toString(16).padStart(16, '0')}`;

/** Matches every rule vifd owns on a bridge (any port's). */
export const VIFD_COOKIE_MATCH = `${hex(VIFD_COOKIE_MARK << 32n)}/${VIFD_COOKIE_MASK}`;

/** The port's own cookie: the mark, then 32 bits of SHA-256 of the device name (stable across restarts). */
export function portCookie(device: string): string {
  const low = BigInt(createHash('sha256').update(device, 'utf8').digest().readUInt32BE(0));
  return hex((VIFD_COOKIE_MARK << 32n) | low);
}

/** Matches exactly one port's rules (ovs-ofctl's cookie=VALUE/MASK). */
export const portCookieMatch = (device: string): string => `${portCookie(device)}/-1`;

/** The IPv6 the guest needs before and besides its own addresses: link-local ND, router and MLD messages, and DAD from "::". */
function ipv6Support(match: string): string[] {
  return [
    `icmp6,${match},ipv6_src=fe80::/10`,
    `icmp6,${match},ipv6_src=::,icmp_type=135`,
    `icmp6,${match},ipv6_src=::,icmp_type=143`,
  ];
}

/** The rule matches (without cookie, priority, actions) that let the guest's own traffic through. */
export function allowedMatches(lock: PortLock): string[] {
  const mac = parseMac(lock.mac, 'mac');
  const ipv4 = parseAllowedList(lock.ipv4Allowed, 4, 'ipv4-allowed');
  const ipv6 = parseAllowedList(lock.ipv6Allowed, 6, 'ipv6-allowed');
  const match = `in_port=${lock.ofport},dl_src=${mac}`;
  return [
    // DHCP from 0.0.0.0 (discover) and later renewals: the guest learns its address this way.
    `udp,${match},tp_src=68,tp_dst=67`,
    ...ipv4.flatMap((address) => [`arp,${match},arp_sha=${mac},arp_spa=${address}`, `ip,${match},nw_src=${address}`]),
    ...(ipv6.length === 0 ? [] : ipv6Support(match)),
    ...ipv6.map((address) => `ipv6,${match},ipv6_src=${address}`),
  ];
}

/**
 * The port's rules as ovs-ofctl flow-file lines: its earlier rules deleted,
 * then the drop and the allows added; run as one bundle, the port is never
 * without its rules.
 */
export function lockFlowLines(device: string, lock: PortLock): string[] {
  if (!Number.isInteger(lock.ofport) || lock.ofport < 1 || lock.ofport >= OFPP_MAX) {
    throw new InvalidInputError(`${String(lock.ofport)} is not an OpenFlow port number`, { field: 'ofport', value: lock.ofport });
  }
  const cookie = portCookie(device);
  return [
    `delete cookie=${cookie}/-1`,
    `add cookie=${cookie},priority=${DROP_PRIORITY},in_port=${lock.ofport},actions=drop`,
    ...allowedMatches(lock).map((match) => `add cookie=${cookie},priority=${ALLOW_PRIORITY},${match},actions=NORMAL`),
  ];
}
