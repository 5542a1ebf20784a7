// JSON-RPC 2.0 framing as XAPI speaks it over HTTP (research/xen-xapi.md §1):
// POST /jsonrpc, replies {"jsonrpc":"2.0","result":R,"id":N} or
// {"jsonrpc":"2.0","error":{"code":1,"message":CODE,"data":[params]},"id":N},
// Content-Type application/json. XAPI's v1 error form [CODE, ...params] is
// accepted too. Pure: no I/O.
import { XapiError, XapiProtocolError, XapiTransportError } from './errors.js';

export const JSONRPC_PATH = '/jsonrpc';

export interface HttpReply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

export function encodeCall(id: number, method: string, params: readonly unknown[]): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params, id });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// lib.d.ts promises a string, but undefined, functions and symbols give undefined.
const toJson: (value: unknown) => string | undefined = JSON.stringify;
const asText = (value: unknown): string => (typeof value === 'string' ? value : toJson(value) ?? String(value));

/** XAPI's error object (2.0) or array (v1) as an XapiError; null if it is neither. */
export function xapiErrorFromWire(error: unknown, method: string): XapiError | null {
  if (Array.isArray(error) && typeof error[0] === 'string') {
    const [code, ...params] = error as unknown[];
    return new XapiError(String(code), params.map(asText), method);
  }
  if (isObject(error) && typeof error.message === 'string' && error.message !== '') {
    const params = Array.isArray(error.data) ? (error.data as unknown[]).map(asText) : [];
    return new XapiError(error.message, params, method);
  }
  return null;
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The call's result, or the XapiError XAPI answered; anything unexpected is a protocol or transport error. */
export function decodeReply(reply: HttpReply, id: number, method: string): unknown {
  if (reply.status < 200 || reply.status > 299) {
    throw new XapiTransportError(`XAPI ${method}: HTTP status ${reply.status}`);
  }
  if (mediaType(reply.contentType) !== 'application/json') {
    throw new XapiProtocolError(`XAPI ${method}: reply is ${JSON.stringify(reply.contentType ?? 'untyped')}, not application/json (does this host speak JSON-RPC?)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(reply.body);
  } catch (error) {
    throw new XapiProtocolError(`XAPI ${method}: reply is not JSON`, {}, { cause: error });
  }
  if (!isObject(value)) throw new XapiProtocolError(`XAPI ${method}: reply is not a JSON-RPC object`);
  if (value.id !== id) throw new XapiProtocolError(`XAPI ${method}: reply id ${asText(value.id)} does not match request id ${id}`);
  if (value.error !== undefined && value.error !== null) {
    const failure = xapiErrorFromWire(value.error, method);
    if (failure === null) throw new XapiProtocolError(`XAPI ${method}: error reply without an XAPI error code: ${asText(value.error)}`);
    throw failure;
  }
  if (!('result' in value)) throw new XapiProtocolError(`XAPI ${method}: reply has neither result nor error`);
  return value.result;
}
