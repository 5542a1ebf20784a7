// The OVSDB client vifd runs on: one connection to ovsdb-server, a monitored
// replica of the tables vifd uses, transactions as data with typed failures,
// and "applied" meaning ovs-vswitchd has reached the transaction's next_cfg.
// When ovsdb-server goes away the client reconnects with backoff, rebuilds the
// replica from scratch and emits 'resynced' so its owner reconciles in full.
import { EventEmitter } from 'node:events';
import { Backoff } from '../../model/backoff.js';
import { optionalInteger } from './datum.js';
import {
  OvsdbDisconnectedError, OvsdbTimeoutError, OvsdbTransactionError, classifyOvsdbError,
} from './errors.js';
import { JsonRpcConnection } from './jsonrpc.js';
import { BUMP_NEXT_CFG } from './operations.js';
import type { Operation, OperationResult } from './operations.js';
import { OwnedPortIndex } from './owned-ports.js';
import type { OwnedPortView } from './owned-ports.js';
import { Replica } from './replica.js';
import type { ColumnKinds } from './replica.js';
import { columnKind } from './datum-diff.js';
import type { ColumnKind } from './datum-diff.js';

export const DEFAULT_OVSDB_SOCKET = '/var/run/openvswitch/db.sock';
const MONITOR_ID = 'vifd';

/** Columns to monitor per table; Open_vSwitch next_cfg/cur_cfg are always added. */
export type MonitorSpec = Readonly<Record<string, readonly string[]>>;

export interface OvsdbClientOptions {
  readonly socketPath?: string;
  readonly database?: string;
  readonly monitor: MonitorSpec;
  /** Our echo to the server; an unanswered echo drops the connection. */
  readonly echoIntervalMs?: number;
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  /**
   * monitor_cond (default): modified set and map columns arrive as diffs, so a
   * port added to a bridge of thousands is one UUID, not the Bridge's whole
   * ports set twice (old and new). monitor: RFC 7047's original, whole columns.
   */
  readonly monitorMethod?: 'monitor' | 'monitor_cond';
}

export interface ClientEvents {
  connected: [];
  disconnected: [error: Error | null];
  /** Reconnected and the replica rebuilt: owners must reconcile everything. */
  resynced: [];
  update: [];
}

export interface CommitResult {
  readonly results: readonly OperationResult[];
  /** The next_cfg this transaction asked ovs-vswitchd to reach (when it waited). */
  readonly cfg?: number;
}

/** Each column's kind from the database schema (get_schema), for monitor_cond's diffs. */
function schemaKinds(schema: unknown): ColumnKinds {
  const kinds = new Map<string, ColumnKind>();
  const tables = (schema as { tables?: Record<string, { columns?: Record<string, { type?: unknown }> }> } | null)?.tables ?? {};
  for (const [table, { columns = {} }] of Object.entries(tables)) {
    for (const [column, { type }] of Object.entries(columns)) kinds.set(`${table}\0${column}`, columnKind(type));
  }
  return (table, column) => kinds.get(`${table}\0${column}`) ?? 'scalar';
}

export class OvsdbClient extends EventEmitter<ClientEvents> {
  readonly replica = new Replica();
  /** vifd-owned ports, kept current from the monitor row by row (needs PORT_MONITOR's columns). */
  readonly ownedPorts: OwnedPortView = OwnedPortIndex.of(this.replica);
  readonly socketPath: string;
  private readonly database: string;
  private readonly monitor: MonitorSpec;
  private connection: JsonRpcConnection | null = null;
  private closing = false;
  private everConnected = false;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private echoTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: OvsdbClientOptions) {
    super();
    this.socketPath = options.socketPath ?? DEFAULT_OVSDB_SOCKET;
    this.database = options.database ?? 'Open_vSwitch';
    const ovs = options.monitor.Open_vSwitch ?? [];
    this.monitor = { ...options.monitor, Open_vSwitch: [...new Set([...ovs, 'next_cfg', 'cur_cfg'])] };
    this.backoff = new Backoff(options.reconnectInitialMs ?? 100, options.reconnectMaxMs ?? 5000);
  }

  /** Connects and loads the replica; rejects if the first attempt fails (the caller decides to retry). */
  async start(): Promise<void> {
    await this.connect();
  }

  get connected(): boolean {
    return this.connection?.isOpen === true;
  }

  private async connect(): Promise<void> {
    const connection = await JsonRpcConnection.connect(this.socketPath);
    const conditional = (this.options.monitorMethod ?? 'monitor_cond') === 'monitor_cond';
    let kinds: ColumnKinds = () => 'scalar';
    connection.on('notification', (method, params) => {
      if (!Array.isArray(params) || params[0] !== MONITOR_ID) return;
      if (method === 'update' && !conditional) this.replica.apply(params[1]);
      else if (method === 'update2' && conditional) this.replica.applyUpdate2(params[1], kinds);
      else return;
      this.emit('update');
    });
    connection.on('close', (error) => { this.lost(error); });
    const request = { columns: [] as readonly string[], select: { initial: true, insert: true, delete: true, modify: true } };
    const requests = Object.fromEntries(Object.entries(this.monitor).map(([table, columns]) =>
      [table, conditional ? [{ ...request, columns }] : { ...request, columns }]));
    // Updates can only arrive after the monitor's reply, so the schema is in hand for the first diff.
    if (conditional) kinds = schemaKinds(await connection.request('get_schema', [this.database]));
    const initial = await connection.request(conditional ? 'monitor_cond' : 'monitor', [this.database, MONITOR_ID, requests]);
    this.connection = connection;
    this.replica.reset();
    if (conditional) this.replica.applyUpdate2(initial, kinds);
    else this.replica.apply(initial);
    this.backoff.reset();
    this.startEcho(connection);
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.emit('connected');
    if (reconnected) this.emit('resynced');
    this.emit('update');
  }

  private startEcho(connection: JsonRpcConnection): void {
    const interval = this.options.echoIntervalMs ?? 5000;
    let outstanding = false;
    let sentAt = 0;
    this.stopEcho();
    this.echoTimer = setInterval(() => {
      if (!outstanding) {
        outstanding = true;
        sentAt = Date.now();
        connection.request('echo', ['vifd']).then(() => { outstanding = false; }, () => undefined);
        return;
      }
      // Two intervals without an answer: the server is gone. After a busy stretch of
      // vifd's own (a GC of thousands), this timer runs before the answer waiting in
      // the socket is read: decide only after the pending I/O has been handled.
      if (Date.now() - sentAt < 2 * interval) return;
      setImmediate(() => { if (outstanding && this.connection === connection) connection.close(); });
    }, interval);
    this.echoTimer.unref();
  }

  private stopEcho(): void {
    if (this.echoTimer !== null) clearInterval(this.echoTimer);
    this.echoTimer = null;
  }

  private lost(error: Error | null): void {
    this.stopEcho();
    this.connection = null;
    if (this.closing) return;
    this.emit('disconnected', error);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch(() => { this.scheduleReconnect(); });
    }, this.backoff.next());
  }

  /** Runs one transaction; throws OvsdbTransactionError naming the failing operation. */
  async transact(operations: readonly Operation[]): Promise<OperationResult[]> {
    const connection = this.connection;
    if (connection === null) throw new OvsdbDisconnectedError(`OVSDB ${this.socketPath}: not connected`);
    const results = (await connection.request('transact', [this.database, ...operations])) as (OperationResult | null)[];
    const failed = results.findIndex((result) => result?.error !== undefined);
    if (failed >= 0) {
      const { error = '', details = '' } = results[failed] ?? {};
      const op = operations[failed];
      const what = op === undefined ? 'commit' : `operation ${failed} (${op.op}${'table' in op ? ` ${op.table}` : ''})`;
      throw new OvsdbTransactionError(`OVSDB transaction failed at ${what}: ${error}${details === '' ? '' : `: ${details}`}`,
        classifyOvsdbError(error, details), failed, error, details);
    }
    return results.map((result) => result ?? {});
  }

  /**
   * Runs a transaction and, when asked, waits until ovs-vswitchd has applied
   * it (cur_cfg >= the next_cfg the transaction set), as ovs-vsctl does.
   */
  async commit(operations: readonly Operation[], options: { waitForVswitchd?: boolean; timeoutMs?: number } = {}): Promise<CommitResult> {
    if (options.waitForVswitchd !== true) return { results: await this.transact(operations) };
    const all = await this.transact([...operations, ...BUMP_NEXT_CFG]);
    const cfg = optionalInteger(all[all.length - 1]?.rows?.[0]?.next_cfg);
    if (cfg === null) throw new OvsdbTransactionError('OVSDB: next_cfg missing from the transaction reply');
    await this.waitUntil(() => this.vswitchdCfg() >= cfg, options.timeoutMs ?? 30_000,
      `ovs-vswitchd to apply configuration ${cfg} (is ovs-vswitchd running?)`);
    return { results: all.slice(0, operations.length), cfg };
  }

  /** ovs-vswitchd's cur_cfg as the replica last saw it. */
  vswitchdCfg(): number {
    const [row] = this.replica.rows('Open_vSwitch').values();
    return optionalInteger(row?.cur_cfg) ?? 0;
  }

  /** Resolves when `predicate` holds, checked now and on every replica update. */
  waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new OvsdbTimeoutError(`OVSDB: waited ${timeoutMs} ms for ${what}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('update', check);
      };
      this.on('update', check);
    });
  }

  close(): void {
    this.closing = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stopEcho();
    this.connection?.close();
    this.connection = null;
  }
}
