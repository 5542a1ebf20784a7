// The client side of the control socket, for vifctl and the hooks. A hook
// runs while libvirt waits for it, so every wait here is bounded: connecting
// (vifd may be starting, so refusals are retried) and each call (vifd may be
// stuck on a slow host operation).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeValue } from '../model/errors.js';
import { LineFramer } from './control-server.js';
import { ControlCallError, ControlConnectionError, ControlTimeoutError, DaemonUnavailableError, errnoCode } from './errors.js';
import type { ControlMethod, ParamsOf, ResultOf } from './protocol.js';

export const DEFAULT_SOCKET_PATH = '/run/vifd/vifd.sock';
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const CONNECT_RETRY_MS = 100;
/** A reply (every VIF of a busy host) may be large, but a runaway one must not exhaust vifctl. */
const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024;
/** How long close() waits for vifd to acknowledge the hang-up before cutting the connection. */
const CLOSE_GRACE_MS = 500;
/**
 * "vifd is not there yet": no socket file, nothing listening on it, or (EAGAIN)
 * a full accept queue. Worth waiting out; anything else (EACCES) is not.
 */
const NOT_THERE = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

/** JSON-RPC params are structured: an object (named) or an array (positional). */
export type ControlParams = Readonly<Record<string, unknown>> | readonly unknown[];

export interface ConnectOptions {
  /** How long to keep retrying while the socket is missing or refuses. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** The default bound of each call on this connection. Default 30 s. */
  readonly timeoutMs?: number;
  /** The longest reply line accepted. Default 64 MiB. */
  readonly maxReplyBytes?: number;
}

export interface CallOptions {
  /** How long to wait for this call's reply. */
  readonly timeoutMs?: number;
}

interface PendingCall {
  readonly method: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface RpcReply {
  readonly id: unknown;
  readonly result?: unknown;
  readonly error?: { readonly code: number; readonly message: string; readonly data?: unknown };
}

/** One connection to vifd, for one call or several (concurrent calls are matched to replies by id). */
export class ControlConnection {
  readonly #socket: net.Socket;
  readonly #pending = new Map<number, PendingCall>();
  readonly #timeoutMs: number;
  #nextId = 1;
  /** Why the connection ended, once it has; the reason of the first failure wins. */
  #failure: { readonly reason: string; readonly cause: unknown } | undefined;
  #lastSocketError: Error | undefined;
  /** Settles when the connection is closed, by either side. */
  readonly closed: Promise<void>;

  private constructor(readonly path: string, socket: net.Socket, options: ConnectOptions) {
    this.#socket = socket;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.closed = new Promise((settle) => socket.once('close', () => { settle(); }));
    const framer = new LineFramer(options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES);
    socket.on('data', (chunk: Buffer) => {
      const { lines, overflowed } = framer.push(chunk);
      for (const line of lines) this.#onReply(line);
      if (overflowed) this.#fail(`vifd at ${path} sent a reply longer than ${framer.maxLineBytes} bytes`, undefined);
    });
    socket.on('error', (error) => { this.#lastSocketError = error; });
    socket.on('close', () => {
      const errno = errnoCode(this.#lastSocketError);
      this.#fail(`vifd at ${path} closed the connection${errno === undefined ? '' : ` (${errno})`}`, this.#lastSocketError);
    });
  }

  /**
   * Connects, retrying every 100 ms while the socket is missing or refuses, for
   * at most `connectTimeoutMs`: a hook may run while vifd is (re)starting.
   */
  static async connect(path: string, options: ConnectOptions = {}): Promise<ControlConnection> {
    const socket = await connectWithRetry(path, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    return new ControlConnection(path, socket, options);
  }

  /** Calls `method`; its result, or a ControlCallError, ControlTimeoutError or ControlConnectionError. */
  call(method: string, params?: ControlParams, options: CallOptions = {}): Promise<unknown> {
    const id = this.#nextId++;
    let line: string;
    try {
      line = this.#encode(method, params, id);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late reply finds no pending call and is dropped; the connection stays usable.
        this.#pending.delete(id);
        reject(new ControlTimeoutError(`vifd at ${this.path} did not answer ${describeValue(method)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { method, resolve, reject, timer });
      this.#socket.write(line);
    });
  }

  /** Sends a notification: the handler runs, nothing is answered, failures are the daemon's to log. */
  notify(method: string, params?: ControlParams): void {
    this.#socket.write(this.#encode(method, params, undefined));
  }

  /** Hangs up; calls still waiting fail with ControlConnectionError. */
  close(): Promise<void> {
    this.#fail(`the connection to vifd at ${this.path} was closed by the client`, undefined, 'graceful');
    return this.closed;
  }

  #encode(method: string, params: ControlParams | undefined, id: number | undefined): string {
    if (this.#failure !== undefined) {
      throw new ControlConnectionError(`${this.#failure.reason}; ${describeValue(method)} was not sent`, {}, { cause: this.#failure.cause });
    }
    return `${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`;
  }

  #onReply(line: string): void {
    if (line.trim() === '') return;
    let reply: RpcReply;
    try {
      reply = parseReply(JSON.parse(line));
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.#fail(`vifd at ${this.path} sent a malformed reply (${detail})`, error);
      return;
    }
    if (typeof reply.id === 'number') {
      this.#settle(reply.id, reply);
      return;
    }
    // vifd could not tell which request it refuses (a line it could not read): it concerns every call in flight.
    if (reply.id === null && reply.error !== undefined) for (const id of [...this.#pending.keys()]) this.#settle(id, reply);
  }

  #settle(id: number, reply: RpcReply): void {
    const call = this.#pending.get(id);
    if (call === undefined) return; // answered after its timeout
    this.#pending.delete(id);
    clearTimeout(call.timer);
    if (reply.error === undefined) call.resolve(reply.result);
    else call.reject(new ControlCallError(reply.error.message, {}, { rpcCode: reply.error.code, data: reply.error.data }));
  }

  #fail(reason: string, cause: unknown, how: 'graceful' | 'abrupt' = 'abrupt'): void {
    if (this.#failure !== undefined) return;
    this.#failure = { reason, cause };
    for (const call of this.#pending.values()) {
      clearTimeout(call.timer);
      call.reject(new ControlConnectionError(`${reason} before answering ${describeValue(call.method)}`, {}, { cause }));
    }
    this.#pending.clear();
    if (how === 'abrupt') {
      this.#socket.destroy();
      return;
    }
    // end() lets a notification still in the socket's buffer reach vifd.
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}

/** Connects, calls `method` once and hangs up. */
export async function callControl(path: string, method: string, params?: ControlParams,
  options: ConnectOptions & CallOptions = {}): Promise<unknown> {
  const connection = await ControlConnection.connect(path, options);
  try {
    return await connection.call(method, params, options);
  } finally {
    await connection.close();
  }
}

/**
 * callControl for one of vifd's own methods (api/protocol.ts): params and
 * result as the protocol declares them. The result is vifd's own answer and is
 * taken as declared, not validated again.
 */
export async function callMethod<M extends ControlMethod>(path: string, method: M, params: ParamsOf<M>,
  options: ConnectOptions & CallOptions = {}): Promise<ResultOf<M>> {
  return await callControl(path, method, params, options) as ResultOf<M>;
}

async function connectWithRetry(path: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await connectOnce(path);
    } catch (error) {
      const code = errnoCode(error);
      if (code === undefined || !NOT_THERE.has(code)) {
        const detail = code ?? (error instanceof Error ? error.message : String(error));
        throw new ControlConnectionError(`cannot connect to vifd at ${path}: ${detail}`, {}, { cause: error });
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new DaemonUnavailableError(`vifd is not running or not listening at ${path} (${code}, retried for ${timeoutMs} ms)`, {}, { cause: error });
      }
      await sleep(Math.min(CONNECT_RETRY_MS, left));
    }
  }
}

/** One attempt. A unix-socket connect never hangs (libuv's is non-blocking), so it needs no bound of its own. */
function connectOnce(path: string): Promise<net.Socket> {
  return new Promise((settle, reject) => {
    const socket = net.createConnection(path);
    const onError = (error: Error): void => { reject(error); };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      settle(socket);
    });
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseReply(message: unknown): RpcReply {
  if (!isRecord(message) || message.jsonrpc !== '2.0') throw new Error('not a JSON-RPC 2.0 response');
  if (!('error' in message)) {
    if (!('result' in message)) throw new Error('a response with neither result nor error');
    return { id: message.id, result: message.result };
  }
  const error = message.error;
  if (!isRecord(error) || typeof error.code !== 'number' || typeof error.message !== 'string') {
    throw new Error('an error without a numeric code and a message');
  }
  return { id: message.id, error: { code: error.code, message: error.message, data: error.data } };
}
