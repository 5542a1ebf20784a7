// Device names (design invariant 5). vifd's TAPs are named from the domain
// UUID and VIF index, never from the VM name or domid, so a name is stable
// across restarts and migration and is the same on every host. Versioned like
// the MAC scheme: renaming a running host's devices would orphan them.
import { createHash } from 'node:crypto';
import { InvalidInputError, describeValue, withErrorContext } from './errors.js';
import { MAX_VIF_INDEX, parseVifIndex, parseVmUuid } from './ids.js';

export const DEVICE_NAME_SCHEME_VERSION = 1;
export { MAX_VIF_INDEX };
/** IFNAMSIZ is 16 with the terminating NUL. */
export const MAX_INTERFACE_NAME_BYTES = 15;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const HASH_CHARS = 9; // 45 bits: 'vd' + 9 + '-' + up to 3 index digits = 15 bytes

function base32(bytes: Uint8Array, chars: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(value >>> (bits - 5)) & 31] ?? '';
      bits -= 5;
    }
    value &= (1 << bits) - 1;
    if (out.length === chars) break;
  }
  return out;
}

/**
 * `vd<9 base32 chars of SHA-256(uuid)>-<index>`. The UUID is hashed rather
 * than truncated because time-based UUIDs of VMs made together share their
 * leading characters; 45 bits keep collisions negligible for a host's VMs.
 */
export function deviceName(vmUuid: string, index: number): string {
  const uuid = parseVmUuid(vmUuid, 'uuid');
  const vifIndex = withErrorContext({ vmUuid: uuid }, () => parseVifIndex(index, 'index'));
  return `${deviceNamePrefix(uuid)}${vifIndex}`;
}

/** What every device name of one VM starts with: `vd<9 base32 chars>-`. */
export function deviceNamePrefix(vmUuid: string): string {
  const digest = createHash('sha256').update(parseVmUuid(vmUuid, 'uuid'), 'utf8').digest();
  return `vd${base32(digest, HASH_CHARS)}-`;
}

/** The VIF index a device name of this VM carries (deviceName's inverse); null for any other name. */
export function vifIndexOfDevice(vmUuid: string, device: string | undefined): number | null {
  const prefix = deviceNamePrefix(vmUuid);
  const suffix = device?.startsWith(prefix) === true ? device.slice(prefix.length) : '';
  return /^\d{1,3}$/.test(suffix) ? Number(suffix) : null;
}

/**
 * Linux's dev_valid_name rules (1-15 bytes, not "." or "..", no '/', ':' or
 * whitespace), narrowed to printable ASCII: the kernel's isspace() also counts
 * byte 0xA0 as a space, and that byte is inside many UTF-8 characters ("à" is
 * C3 A0), so a 15-byte UTF-8 name is not necessarily one Linux accepts; and
 * names travel through OVSDB, libvirt XML and logs, where control bytes harm.
 */
export function isValidInterfaceName(name: unknown): name is string {
  if (typeof name !== 'string' || name === '.' || name === '..') return false;
  const bytes = Buffer.byteLength(name, 'utf8');
  return bytes >= 1 && bytes <= MAX_INTERFACE_NAME_BYTES && /^[\x21-\x7e]+$/.test(name) && !/[/:]/.test(name);
}

export function assertValidInterfaceName(name: unknown, field: string): string {
  if (isValidInterfaceName(name)) return name;
  const why = typeof name === 'string' && Buffer.byteLength(name, 'utf8') > MAX_INTERFACE_NAME_BYTES
    ? `is ${Buffer.byteLength(name, 'utf8')} bytes; interface names have at most ${MAX_INTERFACE_NAME_BYTES}`
    : 'is not a valid interface name (1-15 printable ASCII bytes, no "/", ":" or spaces, not "." or "..")';
  throw new InvalidInputError(`${describeValue(name)} ${why}`, { field, value: name });
}

/** Xen's domids stop below DOMID_FIRST_RESERVED (0x7FF0); the ids above are special domains. */
export const MAX_XEN_DOMID = 0x7fef;

/**
 * Xen names its own backends vif<domid>.<devid>; vifd takes them as they are.
 * QEMU's emulated twin of an HVM guest's NIC (vif<domid>.<devid>-emu) is not
 * a backend and reads as null.
 */
export function parseXenBackendName(name: string): { domid: number; devid: number } | null {
  const match = /^vif(0|[1-9]\d{0,4})\.(0|[1-9]\d{0,3})$/.exec(name);
  if (match?.[1] === undefined || match[2] === undefined) return null;
  const domid = Number(match[1]);
  return domid > MAX_XEN_DOMID ? null : { domid, devid: Number(match[2]) };
}
