// XAPI's ipv4_allowed / ipv6_allowed for a locked VIF, as xenopsd writes them
// (comma-separated, no spaces) or as a list. Addresses only: no prefixes, no
// IPv6 zone, nothing a flow match could read as something else, since each
// address ends up in an OpenFlow rule. Pure.
import { InvalidInputError, describeValue } from './errors.js';

/** More than any guest needs; bounds the rules one port gets. */
export const MAX_ALLOWED_ADDRESSES = 64;

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Counts the 16-bit groups of one side of "::" (an IPv4 tail counts two), or -1 when malformed. */
function groupCount(side: string, ipv4Tail: boolean): number {
  if (side === '') return 0;
  const groups = side.split(':');
  const last = groups[groups.length - 1] ?? '';
  if (ipv4Tail && IPV4.test(last)) return groups.slice(0, -1).every((group) => HEX_GROUP.test(group)) ? groups.length + 1 : -1;
  return groups.every((group) => HEX_GROUP.test(group)) ? groups.length : -1;
}

/** RFC 4291 text form: eight groups, or fewer with one "::", optionally ending in dotted IPv4; no zone, no prefix. */
function isIpv6(text: string): boolean {
  if (text.length > 45) return false;
  const halves = text.split('::');
  if (halves.length > 2) return false;
  if (halves.length === 1) return groupCount(text, true) === 8;
  const [head = '', tail = ''] = halves;
  const [left, right] = [groupCount(head, false), groupCount(tail, true)];
  return left >= 0 && right >= 0 && left + right <= 7;
}

function isAddressOf(family: 4 | 6, text: string): boolean {
  return family === 4 ? IPV4.test(text) : isIpv6(text);
}

/** Each item must be one address of the family; the list is bounded and kept in order without repeats. */
export function parseAllowedList(items: readonly unknown[], family: 4 | 6, field: string): string[] {
  if (items.length > MAX_ALLOWED_ADDRESSES) {
    throw new InvalidInputError(`${items.length} addresses, over ${MAX_ALLOWED_ADDRESSES}`, { field, value: items.length });
  }
  const bad = items.find((item) => typeof item !== 'string' || !isAddressOf(family, item));
  if (bad !== undefined) throw new InvalidInputError(`${describeValue(bad)} is not an IPv${family} address`, { field, value: bad });
  return [...new Set(items as string[])];
}

/** xenopsd's comma-separated text; empty means no address of that family. */
export function parseAllowedText(text: string, family: 4 | 6, field: string): string[] {
  return text === '' ? [] : parseAllowedList(text.split(','), family, field);
}
