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

export interface SriovErrorOptions extends ErrorOptions {
  readonly location?: VfLocation;
  readonly errno?: number;
}

type SriovErrorKind<T> = new (detail: string, context?: ErrorContext, options?: SriovErrorOptions) => T;

/**
 * Constructors keep VifdError's (detail, context, options) shape so that
 * withContext (adding VM and VIF on the way out) rebuilds the same class;
 * `at` puts the location in front of the detail.
 */
abstract class SriovError extends VifdError {
  readonly location: VfLocation;

  constructor(detail: string, context: ErrorContext = {}, options: SriovErrorOptions = {}) {
    super(detail, context, options);
    this.location = options.location ?? { pf: 'unknown' };
  }

  static at<T extends SriovError>(this: SriovErrorKind<T>, location: VfLocation, detail: string, options: SriovErrorOptions = {}): T {
    return new this(`${where(location)}: ${detail}`, {}, { ...options, location });
  }

  override withContext(extra: ErrorContext): this {
    const copy = super.withContext(extra);
    Object.defineProperty(copy, 'location', { value: this.location, enumerable: true });
    return copy;
  }
}

/** The kernel refused a netlink request (the ack carried an errno). */
export class VfNetlinkError extends SriovError {
  readonly code = 'sriov-netlink';

  static refused(location: VfLocation, errno: number, what: string, kernelMessage?: string): VfNetlinkError {
    const text = kernelMessage === undefined || kernelMessage === '' ? '' : ` (kernel: ${kernelMessage})`;
    return VfNetlinkError.at(location, `${what} failed: ${errnoName(errno)}${text}`, { errno });
  }

  /** The errno the kernel answered with (positive; 0 when the answer was not an error at all). */
  readonly errno: number;

  constructor(detail: string, context: ErrorContext = {}, options: SriovErrorOptions = {}) {
    super(detail, context, options);
    this.errno = options.errno ?? 0;
  }

  override withContext(extra: ErrorContext): this {
    const copy = super.withContext(extra);
    Object.defineProperty(copy, 'errno', { value: this.errno, enumerable: true });
    return copy;
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
