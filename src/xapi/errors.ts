// Typed failures of vifd's XAPI client. XapiError is XAPI's own answer (its
// code and params, e.g. SESSION_INVALID [session]); the others say the call
// never got an answer (transport) or the answer was not XAPI's (protocol).
import { VifdError, describeValue, mergeContext } from '../model/errors.js';
import type { ErrorContext, ErrorOptions } from '../model/errors.js';

/** XAPI answered with an error; `xapiCode` and `params` are exactly what it sent. */
export class XapiError extends VifdError {
  readonly code = 'xapi';

  constructor(
    readonly xapiCode: string,
    readonly params: readonly string[],
    /** The method called, e.g. VM.start. */
    readonly method: string,
    context: ErrorContext = {},
    options: ErrorOptions = {},
  ) {
    super(`XAPI ${method} failed: ${xapiCode}${params.length === 0 ? '' : ` ${describeValue(params)}`}`, context, options);
  }

  override withContext(extra: ErrorContext): this {
    return new XapiError(this.xapiCode, this.params, this.method, mergeContext(extra, this.context), { cause: this.cause }) as this;
  }
}

/** No answer: connection refused or lost, timeout, HTTP error status. The call may be retried. */
export class XapiTransportError extends VifdError {
  readonly code = 'xapi-transport';
}

/** An answer that is not XAPI's JSON-RPC: wrong content type, not JSON, wrong shape or id. */
export class XapiProtocolError extends VifdError {
  readonly code = 'xapi-protocol';
}

/** The credentials file: unsafe mode, not a regular file, or not in the expected form. */
export class XapiCredentialsError extends VifdError {
  readonly code = 'xapi-credentials';
}

/** XAPI error codes the client acts on. */
export const SESSION_INVALID = 'SESSION_INVALID';
export const EVENTS_LOST = 'EVENTS_LOST';
export const HOST_IS_SLAVE = 'HOST_IS_SLAVE';

export const isXapiError = (error: unknown, xapiCode?: string): error is XapiError =>
  error instanceof XapiError && (xapiCode === undefined || error.xapiCode === xapiCode);
