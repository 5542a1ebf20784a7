// The daemon's control socket: JSON-RPC 2.0 over a unix stream socket, one
// JSON object per line. vifctl and the libvirt/Xen hooks are its clients.
// The socket is the daemon's front door, so it appears at its path already
// mode 0600, and a failing handler never takes the connection down with it.
import net from 'node:net';
import { resolve } from 'node:path';
import { VifdError, describeValue } from '../model/errors.js';
import { RPC_ERROR, errnoCode } from './errors.js';
import { publishSocket, shutdownSocketServer } from './socket-file.js';
import type { PublishedSocket } from './socket-file.js';

/** The libvirt hook sends a whole domain XML in one request. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
/** How long a peer that sent an oversized line may keep sending before it is cut off. */
const OVERSIZED_GRACE_MS = 1_000;
/** The peer hung up; its pending answers are lost because it no longer wants them, not a daemon fault. */
const PEER_GONE = new Set(['EPIPE', 'ECONNRESET']);
const NEWLINE = 0x0a;

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * What a handler knows about its caller. `peer` is never filled in: Node has no
 * SO_PEERCRED and reading it would take native code. The socket's mode 0600
 * already admits only vifd's own user.
 */
export interface CallMeta {
  readonly peer?: PeerCredentials;
}

export type ControlHandler = (params: unknown, meta: CallMeta) => Promise<unknown>;
export type ControlHandlers = Readonly<Record<string, ControlHandler>>;

export interface ControlServerOptions {
  /** The longest request line accepted, newline excluded. Default 16 MiB. */
  readonly maxLineBytes?: number;
  /**
   * Failures no caller can be told about: a notification's handler threw, a
   * result JSON cannot hold, the socket file could not be removed. Default: a
   * line on stderr.
   */
  readonly onError?: (error: unknown, method: string | undefined) => void;
}

export type RpcId = string | number | null;

interface RpcRequest {
  /** Absent for a notification, which gets no reply. */
  readonly id: RpcId | undefined;
  readonly method: string;
  readonly params: unknown;
}

interface RpcErrorBody {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

type Outcome = { readonly result: unknown } | { readonly error: unknown };

/**
 * Splits a byte stream into lines while never holding more than `maxLineBytes`
 * of one line. Splitting bytes at '\n' is safe: 0x0a never occurs inside a
 * UTF-8 multi-byte character, and JSON.stringify escapes newlines in strings,
 * so unlike brace counting this cannot be fooled by a message's content.
 */
export class LineFramer {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #overflowed = false;

  constructor(readonly maxLineBytes: number) {}

  /** True once a line went over the limit; from then on nothing more is returned. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** The lines that `chunk` completes, without their newline, and whether a line has gone over the limit. */
  push(chunk: Buffer): { readonly lines: readonly string[]; readonly overflowed: boolean } {
    const lines: string[] = [];
    let start = 0;
    while (!this.#overflowed) {
      const end = chunk.indexOf(NEWLINE, start);
      const piece = chunk.subarray(start, end === -1 ? chunk.length : end);
      if (this.#pendingBytes + piece.length > this.maxLineBytes) {
        this.#overflowed = true;
        this.#pending = [];
        break;
      }
      if (end === -1) {
        this.#pending.push(piece);
        this.#pendingBytes += piece.length;
        break;
      }
      lines.push(Buffer.concat([...this.#pending, piece]).toString('utf8'));
      this.#pending = [];
      this.#pendingBytes = 0;
      start = end + 1;
    }
    return { lines, overflowed: this.#overflowed };
  }
}

export class ControlServer {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #handlers: ReadonlyMap<string, ControlHandler>;
  readonly #maxLineBytes: number;
  readonly #onError: (error: unknown, method: string | undefined) => void;
  /** The socket file as we made it, so close() never removes a successor's socket. */
  #published: PublishedSocket | undefined;
  #closing: Promise<void> | undefined;

  private constructor(readonly path: string, handlers: ControlHandlers, options: ControlServerOptions) {
    // A Map of own entries: a method named "constructor" or "__proto__" must not reach Object.prototype.
    this.#handlers = new Map(Object.entries(handlers));
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#onError = options.onError ?? reportToStderr;
    this.#server = net.createServer((socket) => { this.#accept(socket); });
  }

  /** Listens on `path` (created mode 0600, its missing parent directories 0700), replacing a stale socket. */
  static async listen(path: string, handlers: ControlHandlers, options: ControlServerOptions = {}): Promise<ControlServer> {
    const server = new ControlServer(resolve(path), handlers, options);
    try {
      server.#published = await publishSocket(server.#server, path, (error) => { server.#onError(error, undefined); });
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  /** Stops listening, drops every connection (pending answers are lost) and removes the socket file. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await shutdownSocketServer(this.#published, this.#server, this.#sockets, (error) => { this.#onError(error, undefined); });
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    const framer = new LineFramer(this.#maxLineBytes);
    socket.on('data', (chunk: Buffer) => {
      if (framer.overflowed) return; // the rest of an oversized line, read only so the peer is not stalled
      const { lines, overflowed } = framer.push(chunk);
      for (const line of lines) this.#onLine(socket, line);
      if (overflowed) this.#refuseOversized(socket);
    });
    socket.on('error', (error) => {
      if (!PEER_GONE.has(errnoCode(error) ?? '')) this.#onError(error, undefined);
    });
    socket.on('close', () => this.#sockets.delete(socket));
  }

  #onLine(socket: net.Socket, line: string): void {
    if (line.trim() === '') return; // tolerated, so that socat and CRLF line endings work
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (error) {
      // The line is gone but the framing is intact: the next line is still read.
      send(socket, errorLine(null, { code: RPC_ERROR.parseError, message: `parse error: ${messageOf(error)}` }));
      return;
    }
    const parsed = parseRequest(message);
    if ('invalid' in parsed) {
      send(socket, errorLine(parsed.id, { code: RPC_ERROR.invalidRequest, message: `invalid request: ${parsed.invalid}` }));
      return;
    }
    // Not awaited: requests on one connection run concurrently and are answered by id. A
    // handler's failure is its reply; anything else (a reply that cannot be written) is reported.
    const { method } = parsed.request;
    this.#dispatch(socket, parsed.request).catch((error: unknown) => { this.#onError(error, method); });
  }

  async #dispatch(socket: net.Socket, request: RpcRequest): Promise<void> {
    const handler = this.#handlers.get(request.method);
    if (handler === undefined) {
      const message = `no such method: ${describeValue(request.method)}`;
      if (request.id !== undefined) send(socket, errorLine(request.id, { code: RPC_ERROR.methodNotFound, message }));
      return;
    }
    let outcome: Outcome;
    try {
      outcome = { result: await handler(request.params, {}) };
    } catch (error) {
      outcome = { error };
    }
    if (request.id !== undefined) send(socket, this.#replyLine(request.id, request.method, outcome));
    else if ('error' in outcome) this.#onError(outcome.error, request.method);
  }

  #replyLine(id: RpcId, method: string, outcome: Outcome): string {
    if ('error' in outcome) return errorLine(id, errorBody(outcome.error));
    try {
      // toJson gives undefined for undefined (a handler with nothing to say), which JSON-RPC spells null.
      return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${toJson(outcome.result) ?? 'null'}}`;
    } catch (error) {
      this.#onError(error, method);
      const message = `the result of ${describeValue(method)} cannot be sent as JSON: ${messageOf(error)}`;
      return errorLine(id, { code: RPC_ERROR.internalError, message });
    }
  }

  #refuseOversized(socket: net.Socket): void {
    const message = `request line longer than ${this.#maxLineBytes} bytes; closing the connection`;
    send(socket, errorLine(null, { code: RPC_ERROR.invalidRequest, message, data: { maxLineBytes: this.#maxLineBytes } }));
    socket.end();
    // Data keeps being read (and dropped) rather than left unread, which would stall a peer still writing.
    setTimeout(() => socket.destroy(), OVERSIZED_GRACE_MS).unref();
  }
}

// lib.d.ts promises a string, but undefined and functions give undefined.
const toJson: (value: unknown) => string | undefined = JSON.stringify;

function send(socket: net.Socket, line: string): void {
  if (socket.writable) socket.write(`${line}\n`);
}

function errorLine(id: RpcId, error: RpcErrorBody): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error });
}

function errorBody(error: unknown): RpcErrorBody {
  if (!(error instanceof VifdError)) {
    const message = error instanceof Error ? error.message : `handler failed with ${describeValue(error)}`;
    return { code: RPC_ERROR.internalError, message };
  }
  let context: unknown = error.context;
  try {
    JSON.stringify(context);
  } catch {
    // context.value is the one free-form field (a BigInt, a cycle): shown as the message shows it.
    context = { ...error.context, value: describeValue(error.context.value) };
  }
  return { code: RPC_ERROR.vifdError, message: error.message, data: { code: error.code, context } };
}

function isRpcId(value: unknown): value is RpcId {
  return value === null || typeof value === 'string' || typeof value === 'number';
}

/** A request, or why it is not one (with the id to answer, when it has a usable one). */
function parseRequest(message: unknown): { readonly request: RpcRequest } | { readonly invalid: string; readonly id: RpcId } {
  if (typeof message !== 'object' || message === null) return { invalid: 'not a JSON object', id: null };
  if (Array.isArray(message)) return { invalid: 'batch requests are not supported', id: null };
  const { jsonrpc, id, method, params } = message as Record<string, unknown>;
  if (id !== undefined && !isRpcId(id)) return { invalid: 'id must be a string, a number or null', id: null };
  const replyId = id ?? null;
  if (jsonrpc !== '2.0') return { invalid: 'jsonrpc must be "2.0"', id: replyId };
  if (typeof method !== 'string') return { invalid: 'method must be a string', id: replyId };
  if (params !== undefined && (typeof params !== 'object' || params === null)) {
    return { invalid: 'params must be an object or an array', id: replyId };
  }
  return { request: { id, method, params } };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function reportToStderr(error: unknown, method: string | undefined): void {
  const where = method === undefined ? '' : ` (${describeValue(method)})`;
  process.stderr.write(`vifd control socket${where}: ${messageOf(error)}\n`);
}
