// One HTTP listener of the simulated xapi (a TCP port or a unix socket):
// POST /jsonrpc, JSON-RPC 2.0 (and v1) with the reply shapes XAPI sends and
// Content-Type exactly `application/json` (xen-api falls back to XML-RPC on
// anything else, even with a charset).
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { XapiFailure } from './failure.js';
import type { CallContext } from './methods.js';

/** A PEM key and certificate: the listener speaks https, as a real XAPI host does on 443. */
export interface SimTls {
  readonly key: string;
  readonly cert: string;
}

export type Dispatch = (method: string, params: readonly unknown[], call: CallContext) => Promise<unknown>;

interface RpcRequest {
  readonly version: 1 | 2;
  readonly id: unknown;
  readonly method: string;
  readonly params: readonly unknown[];
}

function parseRequest(body: string): RpcRequest | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { jsonrpc, id, method, params } = value as Record<string, unknown>;
  if (typeof method !== 'string' || (params !== undefined && !Array.isArray(params))) return null;
  return { version: jsonrpc === '2.0' ? 2 : 1, id: id ?? null, method, params: (params as unknown[] | undefined) ?? [] };
}

function reply(request: RpcRequest, outcome: { result: unknown } | { failure: XapiFailure }): unknown {
  if ('result' in outcome) {
    return request.version === 2
      ? { jsonrpc: '2.0', result: outcome.result, id: request.id }
      : { result: outcome.result, error: null, id: request.id };
  }
  const { code, params } = outcome.failure;
  return request.version === 2
    ? { jsonrpc: '2.0', error: { code: 1, message: code, data: params }, id: request.id }
    : { result: null, error: [code, ...params], id: request.id };
}

function send(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export class SimListener {
  private readonly sockets = new Set<Socket>();
  /** When set, this listener plays a pool member whose master is at this address. */
  slaveOf: string | null = null;

  private constructor(
    private readonly server: Server,
    readonly transport: 'tcp' | 'unix',
    /** host:port for TCP, the socket path for unix. */
    readonly address: string,
    readonly port: number,
    private readonly tls: boolean,
  ) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** For clients: http(s)://host:port, or the unix socket path. */
  get url(): string {
    if (this.transport === 'unix') return this.address;
    return `${this.tls ? 'https' : 'http'}://${this.address}`;
  }

  static async open(dispatch: Dispatch, where: { host: string; port: number; tls?: SimTls } | { path: string }): Promise<SimListener> {
    let listener: SimListener | null = null;
    const serve = (request: IncomingMessage, response: ServerResponse): void => {
      if (listener !== null) void listener.handle(dispatch, request, response);
    };
    const tls = 'tls' in where ? where.tls : undefined;
    const server: Server = tls === undefined ? createServer(serve) : createTlsServer({ key: tls.key, cert: tls.cert }, serve);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if ('path' in where) {
        rmSync(where.path, { force: true });
        server.listen(where.path, resolve);
      } else {
        server.listen(where.port, where.host, resolve);
      }
    });
    const bound = server.address();
    if ('path' in where || typeof bound !== 'object' || bound === null) {
      listener = new SimListener(server, 'unix', 'path' in where ? where.path : JSON.stringify(bound), 0, false);
    } else {
      listener = new SimListener(server, 'tcp', `${where.host}:${bound.port}`, bound.port, tls !== undefined);
    }
    return listener;
  }

  private async handle(dispatch: Dispatch, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'POST' || path !== '/jsonrpc') {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const rpc = parseRequest(await readBody(request));
    if (rpc === null) {
      send(response, 400, { jsonrpc: '2.0', error: { code: -32700, message: 'PARSE_ERROR', data: [] }, id: null });
      return;
    }
    try {
      const result = await dispatch(rpc.method, rpc.params, { transport: this.transport, slaveOf: this.slaveOf });
      send(response, 200, reply(rpc, { result }));
    } catch (error) {
      const failure = error instanceof XapiFailure ? error : new XapiFailure('INTERNAL_ERROR', [String(error)]);
      send(response, 200, reply(rpc, { failure }));
    }
  }

  /** Every open connection dropped, as when xapi restarts; clients see a transport error. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Plays a pool member (master at `masterAddress`), or the master again with null; drops connections. */
  actAsSlave(masterAddress: string | null): void {
    if (this.transport === 'unix') throw new Error('xapi-sim: a member forwards local unix-socket calls to its master; only TCP listeners answer HOST_IS_SLAVE');
    this.slaveOf = masterAddress;
    this.dropConnections();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => { resolve(); }));
    this.server.closeIdleConnections();
    this.dropConnections();
    await closed;
    if (this.transport === 'unix') rmSync(this.address, { force: true });
  }
}
