// Deterministic MAC addresses (design invariant 6). This scheme is versioned:
// hosts running vifd depend on getting the same MAC for the same VIF, so any
// change to it is a new MAC_SCHEME_VERSION and breaks the golden tests.
import { createHash } from 'node:crypto';
import { InvalidInputError, describeValue, withErrorContext } from './errors.js';
import { parseVifIndex, parseVmUuid } from './ids.js';

export const MAC_SCHEME_VERSION = 1;
export const KVM_MAC_PREFIX = '52:54:00';
export const XEN_MAC_PREFIX = '00:16:3e';
/** Candidates tried before giving up; 64 collisions means something else is wrong. */
export const MAX_MAC_ATTEMPTS = 64;

export interface MacPrefix {
  readonly bytes: readonly number[];
  /** Canonical lowercase text, e.g. 52:54:00. */
  readonly text: string;
}

const OCTET = /^[0-9a-f]{2}$/i;

// Only ':' separators: '-' (Windows) and '.' (Cisco) forms are refused rather
// than converted, so a MAC is written one way in configs, OVSDB and logs.
function parseOctets(input: unknown, field: string, what: string): number[] {
  if (typeof input !== 'string') throw new InvalidInputError(`expected ${what}, got ${describeValue(input)}`, { field, value: input });
  const parts = input.split(':');
  if (!parts.every((part) => OCTET.test(part))) {
    throw new InvalidInputError(`${describeValue(input)} is not ${what} (hex pairs separated by ':' only)`, { field, value: input });
  }
  return parts.map((part) => Number.parseInt(part, 16));
}

const formatOctets = (bytes: readonly number[]): string =>
  bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');

// Bit 0 of the first octet marks a group (multicast/broadcast) address.
const isGroupOctet = (first: number): boolean => (first & 0x01) !== 0;

export function parseMacPrefix(input: unknown, field = 'mac_prefix'): MacPrefix {
  const bytes = parseOctets(input, field, 'a MAC prefix');
  if (bytes.length < 1 || bytes.length > 5) {
    throw new InvalidInputError(`${describeValue(input)} has ${bytes.length} bytes; a MAC prefix has 1 to 5`, { field, value: input });
  }
  if (isGroupOctet(bytes[0] ?? 0)) {
    throw new InvalidInputError(`${describeValue(input)} is a multicast prefix; VIF MACs must be unicast`, { field, value: input });
  }
  return { bytes, text: formatOctets(bytes) };
}

/** A unicast, non-zero MAC in canonical lowercase aa:bb:cc:dd:ee:ff form. */
export function parseMac(input: unknown, field = 'mac'): string {
  const bytes = parseOctets(input, field, 'a MAC address');
  if (bytes.length !== 6) {
    throw new InvalidInputError(`${describeValue(input)} is not a MAC address (6 bytes)`, { field, value: input });
  }
  if (isGroupOctet(bytes[0] ?? 0)) {
    throw new InvalidInputError(`${describeValue(input)} is a multicast address; a VIF needs a unicast MAC`, { field, value: input });
  }
  if (bytes.every((byte) => byte === 0)) throw new InvalidInputError('00:00:00:00:00:00 is not a usable MAC', { field, value: input });
  return formatOctets(bytes);
}

export interface DerivedMacRequest {
  readonly vmUuid: string;
  readonly index: number;
  readonly prefix: MacPrefix;
  /** True when another VIF on the host already uses this MAC. */
  readonly isTaken?: (mac: string) => boolean;
}

export interface DerivedMac {
  readonly mac: string;
  /** How many candidates were taken before this one (0: no collision). */
  readonly collisions: number;
}

/**
 * Candidate n of the scheme: SHA-256 of `<uuid>/<index>`, then `<uuid>/<index>/<n>`.
 * Expects a lowercase UUID (deterministicMac validates and lowercases it).
 */
export function macCandidate(vmUuid: string, index: number, prefix: MacPrefix, attempt: number): string {
  const seed = attempt === 0 ? `${vmUuid}/${index}` : `${vmUuid}/${index}/${attempt}`;
  const digest = createHash('sha256').update(seed, 'utf8').digest();
  return formatOctets([...prefix.bytes, ...digest.subarray(0, 6 - prefix.bytes.length)]);
}

export function deterministicMac(request: DerivedMacRequest): DerivedMac {
  const vmUuid = parseVmUuid(request.vmUuid, 'uuid');
  const index = withErrorContext({ vmUuid }, () => parseVifIndex(request.index, 'index'));
  const isTaken = request.isTaken ?? (() => false);
  for (let attempt = 0; attempt < MAX_MAC_ATTEMPTS; attempt++) {
    const mac = macCandidate(vmUuid, index, request.prefix, attempt);
    if (!isTaken(mac)) return { mac, collisions: attempt };
  }
  // Only a long prefix (few hashed bytes) on a crowded host gets here: a config problem, not a VM's.
  throw new InvalidInputError(`no free MAC after ${MAX_MAC_ATTEMPTS} candidates with prefix ${request.prefix.text}`, {
    vmUuid, vifIndex: index, field: 'mac',
  });
}

export interface MacChoice extends DerivedMac {
  readonly source: 'explicit' | 'derived';
}

/** An explicit MAC from the intent wins; otherwise the derived one. */
export function chooseMac(request: DerivedMacRequest & { readonly explicit?: unknown }): MacChoice {
  if (request.explicit === undefined) return { ...deterministicMac(request), source: 'derived' };
  const vmUuid = parseVmUuid(request.vmUuid, 'uuid');
  const vifIndex = withErrorContext({ vmUuid }, () => parseVifIndex(request.index, 'index'));
  return { mac: withErrorContext({ vmUuid, vifIndex }, () => parseMac(request.explicit)), collisions: 0, source: 'explicit' };
}

/**
 * The prefix a domain's derived MACs take: a Xen domain (libvirt's libxl
 * driver, `<domain type='xen'>`) gets Xen's 00:16:3e where the host is set up
 * with KVM's default, so a Xen guest's NIC looks like one Xen made; a prefix
 * the operator chose is kept for every domain, and KVM domains are as before.
 */
export function macPrefixForDomain(hypervisorType: string, configured: MacPrefix): MacPrefix {
  return hypervisorType === 'xen' && configured.text === KVM_MAC_PREFIX ? parseMacPrefix(XEN_MAC_PREFIX) : configured;
}
