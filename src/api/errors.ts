// Errors of the control socket, on both sides. The path is part of each
// message (not of `context`, whose subject prefix names a VM or a config
// file): an operator who reads "not listening at /run/vifd/vifd.sock" knows
// which daemon and which socket to look at.
import { VifdError, mergeContext } from '../model/errors.js';
import type { ErrorContext, ErrorOptions } from '../model/errors.js';

/** JSON-RPC 2.0 error codes; -32000 is the server-defined range vifd uses for its own errors. */
export const RPC_ERROR = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  internalError: -32603,
  vifdError: -32000,
} as const;

/** The errno code (`ENOENT`, `ECONNREFUSED`...) of a Node system error, if it is one. */
export function errnoCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** Another daemon answers on the socket path: starting a second one would steal its clients. */
export class ControlSocketInUseError extends VifdError {
  readonly code = 'control-socket-in-use';
}

/** The socket path cannot be used: not a socket, too long, or not inspectable. Nothing was deleted. */
export class ControlSocketPathError extends VifdError {
  readonly code = 'control-socket-path';
}

/** Nothing accepted a connection on the socket in time; `cause` is the last connect error. */
export class DaemonUnavailableError extends VifdError {
  readonly code = 'daemon-unavailable';
}

/** The connection failed other than by vifd being absent: refused access, closed early, a garbled reply. */
export class ControlConnectionError extends VifdError {
  readonly code = 'control-connection';
}

/** vifd did not answer a call within its bound; the connection stays usable. */
export class ControlTimeoutError extends VifdError {
  readonly code = 'control-timeout';
}

export interface ControlCallErrorDetail {
  /** The JSON-RPC error code, e.g. -32601 (no such method) or -32000 (a VifdError in the daemon). */
  readonly rpcCode: number;
  /** For -32000: `{code, context}` of the daemon's VifdError; otherwise what the daemon sent, if anything. */
  readonly data?: unknown;
}

/**
 * The daemon answered with a JSON-RPC error. `message` is the daemon's own,
 * which already names the VM, VIF and field; `data.code` says what kind of
 * VifdError it was, so a CLI can map it to an exit status.
 */
export class ControlCallError extends VifdError {
  readonly code = 'control-call';
  readonly rpcCode: number;
  readonly data: unknown;

  constructor(detail: string, context: ErrorContext = {}, options: ErrorOptions & Partial<ControlCallErrorDetail> = {}) {
    super(detail, context, options);
    this.rpcCode = options.rpcCode ?? RPC_ERROR.internalError;
    this.data = options.data;
  }

  override withContext(extra: ErrorContext): this {
    const options = { cause: this.cause, rpcCode: this.rpcCode, data: this.data };
    return new ControlCallError(this.detail, mergeContext(extra, this.context), options) as this;
  }

  /** The daemon's VifdError code (e.g. `invalid-input`), when the reply carried one. */
  get remoteCode(): string | undefined {
    if (typeof this.data !== 'object' || this.data === null || !('code' in this.data)) return undefined;
    return typeof this.data.code === 'string' ? this.data.code : undefined;
  }
}
