// Shared fast-check arbitraries for the MAC and device-name properties.
import fc from 'fast-check';
import { MAX_VIF_INDEX } from '../../../src/model/ids.js';
import { parseMacPrefix } from '../../../src/model/mac.js';
import type { MacPrefix } from '../../../src/model/mac.js';

/** UUIDs in canonical form with each hex letter in either case, as VM definitions may write them. */
export const anyCaseUuid: fc.Arbitrary<string> = fc
  .tuple(fc.uuid(), fc.array(fc.boolean(), { minLength: 36, maxLength: 36 }))
  .map(([uuid, upper]) => uuid.replace(/[a-f]/g, (char, at: number) => (upper[at] === true ? char.toUpperCase() : char)));

export const vifIndex: fc.Arbitrary<number> = fc.integer({ min: 0, max: MAX_VIF_INDEX });

const toHex = (bytes: readonly number[]): string => bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');

/** Valid prefixes of `minBytes`..`maxBytes` bytes; the first octet is unicast (bit 0 clear). */
export function macPrefix(minBytes = 1, maxBytes = 5): fc.Arbitrary<MacPrefix> {
  return fc
    .array(fc.integer({ min: 0, max: 255 }), { minLength: minBytes, maxLength: maxBytes })
    .map((bytes) => parseMacPrefix(toHex([(bytes[0] ?? 0) & 0xfe, ...bytes.slice(1)])));
}

/** Any unicast, non-zero MAC, written in either case. */
export const unicastMacText: fc.Arbitrary<string> = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }), fc.boolean())
  .filter(([bytes]) => bytes.some((byte) => byte !== 0) && ((bytes[0] ?? 0) & 1) === 0)
  .map(([bytes, upper]) => (upper ? toHex(bytes).toUpperCase() : toHex(bytes)));
