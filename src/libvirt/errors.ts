import { VifdError } from '../common/errors.js';
import type { ErrorOptions } from '../common/errors.js';

/** Names of libvirt error codes vifd acts on (virterror.h). */
export const LIBVIRT_ERROR = {
  internal: 1, noSupport: 3, noConnect: 5, invalidConnection: 6, systemError: 38, rpc: 39,
  noDomain: 42, operationInvalid: 55, noDomainMetadata: 80,
} as const;

export interface LibvirtErrorDetail {
  /** libvirt's virErrorNumber, e.g. 42 (no domain). */
  readonly libvirtCode: number;
  /** libvirt's virErrorDomain: which part of libvirt raised it. */
  readonly libvirtDomain: number;
  readonly operation: string;
}

/** A libvirt call failed; the message is libvirt's own, prefixed with the operation and VM. */
export class LibvirtError extends VifdError {
  readonly code = 'libvirt';
  readonly libvirtCode: number;
  readonly libvirtDomain: number;
  readonly operation: string;

  constructor(detail: string, context: ConstructorParameters<typeof VifdError>[1] = {}, options: ErrorOptions & Partial<LibvirtErrorDetail> = {}) {
    super(detail, context, options);
    this.libvirtCode = options.libvirtCode ?? 0;
    this.libvirtDomain = options.libvirtDomain ?? 0;
    this.operation = options.operation ?? '';
  }

  override withContext(extra: ConstructorParameters<typeof VifdError>[1]): this {
    return new LibvirtError(this.detail, { ...extra, ...this.context }, {
      cause: this.cause, libvirtCode: this.libvirtCode, libvirtDomain: this.libvirtDomain, operation: this.operation,
    }) as this;
  }

  get isNoDomain(): boolean {
    return this.libvirtCode === LIBVIRT_ERROR.noDomain;
  }
}
