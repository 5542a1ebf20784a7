import { HostOperationError } from '../errors.js';

/** The connection to ovsdb-server is down; the request may be retried after reconnect. */
export class OvsdbDisconnectedError extends HostOperationError {}

/** ovsdb-server answered a JSON-RPC request with an error. */
export class OvsdbRpcError extends HostOperationError {}

/** No answer in time: a request, or ovs-vswitchd reaching a configuration. */
export class OvsdbTimeoutError extends HostOperationError {}

export type OvsdbFailureKind =
  | 'duplicate-name' | 'constraint-violation' | 'referential-integrity' | 'not-found' | 'timed-out' | 'other';

/** One operation of a transaction failed; `operationIndex` says which. */
export class OvsdbTransactionError extends HostOperationError {
  constructor(
    detail: string,
    readonly kind: OvsdbFailureKind = 'other',
    readonly operationIndex = -1,
    readonly ovsdbError = '',
    readonly ovsdbDetails = '',
  ) {
    super(detail);
  }
}

/** Maps ovsdb-server's error strings (RFC 7047 §4.1.3, ovsdb/transaction.c) to kinds callers act on. */
export function classifyOvsdbError(error: string, details: string): OvsdbFailureKind {
  if (error === 'constraint violation' && /identical values .* for index/.test(details)) return 'duplicate-name';
  if (error === 'constraint violation') return 'constraint-violation';
  if (error === 'referential integrity violation') return 'referential-integrity';
  if (error === 'not found') return 'not-found';
  if (error === 'timed out') return 'timed-out';
  return 'other';
}
