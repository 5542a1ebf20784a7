// Typed failures of the SR-IOV effectors. Each names the PF, the VF index and
// what was being done, so one log line tells the operator which VF to look at.
import { constants } from 'node:os';
import { VifdError } from '../../model/errors.js';
import type { ErrorContext, ErrorOptions } from '../../model/errors.js';

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, code]) => [code, name]));
/** EOPNOTSUPP and ENOTSUP share a number on Linux; the netlink one is EOPNOTSUPP. */
ERRNO_NAMES.set(constants.errno.EOPNOTSUPP, 'EOPNOTSUPP');

/** `EOPNOTSUPP` for 95; `errno 4242` for a number Node does not know. */
export const errnoName = (code: number): string => ERRNO_NAMES.get(code) ?? `errno ${code}`;

/** Where an SR-IOV failure happened: the PF (netdev or PCI address), the VF index, the attribute or file. */
export interface VfLocation {
  readonly pf: string;
  readonly vf?: number;
  /** The VF attribute (mac, vlan, spoofchk, trust, link-state, rate) or sysfs file involved. */
  readonly attribute?: string;
}

const where = (at: VfLocation): string =>
  `PF ${at.pf}${at.vf === undefined ? '' : ` VF ${at.vf}`}${at.attribute === undefined ? '' : ` ${at.attribute}`}`;

abstract class SriovError extends VifdError {
  constructor(
    readonly location: VfLocation,
    detail: string,
    context: ErrorContext = {},
    options: ErrorOptions = {},
  ) {
    super(`${where(location)}: ${detail}`, context, options);
  }

  override withContext(extra: ErrorContext): this {
    const copy = super.withContext(extra);
    Object.defineProperty(copy, 'location', { value: this.location });
    return copy;
  }
}

/** The kernel refused a netlink request (the ack carried an errno). */
export class VfNetlinkError extends SriovError {
  readonly code = 'sriov-netlink';
  readonly errno: number;

  constructor(location: VfLocation, errno: number, what: string, kernelMessage?: string) {
    const text = kernelMessage === undefined || kernelMessage === '' ? '' : ` (kernel: ${kernelMessage})`;
    super(location, `${what} failed: ${errnoName(errno)}${text}`);
    this.errno = errno;
  }

  /** The PF driver has no operation for this attribute (igb and link_state). */
  get isUnsupported(): boolean {
    return this.errno === constants.errno.EOPNOTSUPP || this.errno === constants.errno.EPROTONOSUPPORT;
  }
}

/** An attribute was accepted but the VF does not show it afterwards. */
export class VfReadBackError extends SriovError {
  readonly code = 'sriov-read-back';
}

/** A sysfs read, write or link failed, or sysfs shows something vifd must not change. */
export class SriovSysfsError extends SriovError {
  readonly code = 'sriov-sysfs';
}

/** A restore snapshot could not be written or read: vifd must not touch the VF without one. */
export class VfSnapshotError extends SriovError {
  readonly code = 'sriov-snapshot';
}
