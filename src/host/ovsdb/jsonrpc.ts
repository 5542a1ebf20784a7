// JSON-RPC 1.0 over a unix socket, as ovsdb-server speaks it (RFC 7047 §4):
// requests matched to replies by id, the server's "echo" answered at once,
// notifications ("update") handed to the owner. A dropped connection rejects
// every pending request with OvsdbDisconnectedError.
import { EventEmitter } from 'node:events';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { JsonStreamSplitter } from './framing.js';
import { OvsdbDisconnectedError, OvsdbRpcError, OvsdbTimeoutError } from './errors.js';

interface Pending {
  readonly method: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface Message {
  readonly id?: unknown;
  readonly method?: unknown;
  readonly params?: unknown;
  readonly result?: unknown;
  readonly error?: unknown;
}

export interface JsonRpcEvents {
  notification: [method: string, params: unknown];
  close: [error: Error | null];
}

export class JsonRpcConnection extends EventEmitter<JsonRpcEvents> {
  private readonly pending = new Map<number, Pending>();
  private readonly splitter = new JsonStreamSplitter();
  private nextId = 1;
  private closed = false;

  private constructor(private readonly socket: Socket, readonly path: string) {
    super();
    socket.on('data', (chunk: Buffer) => { this.receive(chunk); });
    socket.on('error', (error) => { this.shutdown(error); });
    socket.on('close', () => { this.shutdown(null); });
  }

  static connect(path: string, timeoutMs = 5000): Promise<JsonRpcConnection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new OvsdbTimeoutError(`OVSDB ${path}: connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new JsonRpcConnection(socket, path));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new OvsdbDisconnectedError(`OVSDB ${path}: cannot connect: ${error.message}`, {}, { cause: error }));
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  request(method: string, params: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new OvsdbDisconnectedError(`OVSDB ${this.path}: not connected (${method})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { method, resolve, reject });
      this.send({ id, method, params });
    });
  }

  private send(message: object): void {
    this.socket.write(JSON.stringify(message));
  }

  private receive(chunk: Buffer): void {
    let messages: unknown[];
    try {
      messages = this.splitter.push(chunk);
    } catch (error) {
      this.shutdown(error as Error); // a broken stream cannot be resynchronized: reconnect
      return;
    }
    for (const message of messages) this.dispatch(message as Message);
  }

  private dispatch(message: Message): void {
    if (typeof message.method === 'string') {
      if (message.id === null || message.id === undefined) {
        this.emit('notification', message.method, message.params);
      } else if (message.method === 'echo') {
        this.send({ id: message.id, result: message.params, error: null });
      } else {
        this.send({ id: message.id, result: null, error: `unknown method ${message.method}` });
      }
      return;
    }
    const pending = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
    if (pending === undefined || typeof message.id !== 'number') return; // a reply to nothing we asked
    this.pending.delete(message.id);
    if (message.error !== null && message.error !== undefined) {
      pending.reject(new OvsdbRpcError(`OVSDB ${pending.method} failed: ${JSON.stringify(message.error)}`));
    } else {
      pending.resolve(message.result);
    }
  }

  private shutdown(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const reason = error === null ? 'connection closed' : error.message;
    for (const pending of this.pending.values()) {
      pending.reject(new OvsdbDisconnectedError(`OVSDB ${this.path}: ${reason} before ${pending.method} was answered`));
    }
    this.pending.clear();
    this.emit('close', error);
  }

  close(): void {
    this.shutdown(null);
  }
}
