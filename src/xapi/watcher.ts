// Following XAPI's events without gaps (design: "Events without gaps"): take
// an event.from token with event.inject first, then fetch every record, then
// long-poll event.from from that token. EVENTS_LOST, a new session (expiry,
// xapi restart, redirect) and any failure lead to the same place: a full
// resync, after a backoff when XAPI could not be reached. The owner gets a
// 'resync' batch (reconcile everything from the cache) or an 'events' batch.
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../model/backoff.js';
import { XapiRecordCache } from './cache.js';
import { SILENT_LOG } from './client.js';
import type { XapiClient, XapiLog } from './client.js';
import { EVENTS_LOST, SESSION_INVALID, XapiProtocolError, XapiTransportError, isXapiError } from './errors.js';
import { XAPI_CLASSES, parseEventFromResult } from './records.js';
import type { XapiEvent } from './records.js';

export type WatcherState = 'starting' | 'synced' | 'recovering' | 'stopped';

export type ResyncReason = 'start' | 'events-lost' | 'session-renewed' | 'reconnected' | 'error';

export type XapiBatch =
  | { readonly kind: 'resync'; readonly reason: ResyncReason }
  | { readonly kind: 'events'; readonly events: readonly XapiEvent[] };

export interface XapiWatcherOptions {
  /** Default: pool, host, network, PIF, VLAN, VM, VIF. */
  readonly classes?: readonly string[];
  /** Awaited before the next poll; a throw leads to a resync. */
  readonly onBatch: (batch: XapiBatch, cache: XapiRecordCache) => void | Promise<void>;
  /** event.from's own timeout in seconds. Default 30. */
  readonly pollTimeoutS?: number;
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  readonly log?: XapiLog;
}

/** Thrown inside the loop to start over without waiting. */
class ResyncNeeded extends Error {}

export class XapiEventWatcher {
  readonly cache: XapiRecordCache;
  private readonly classes: readonly string[];
  private readonly backoff: Backoff;
  private readonly log: XapiLog;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private loginsSeen = -1;
  private resyncs = 0;
  private current: WatcherState = 'starting';
  private failure: Error | null = null;
  private resolveSynced: () => void = () => undefined;
  private rejectSynced: (error: Error) => void = () => undefined;
  private readonly firstSync = new Promise<void>((resolve, reject) => {
    this.resolveSynced = resolve;
    this.rejectSynced = reject;
  });

  constructor(private readonly client: XapiClient, private readonly options: XapiWatcherOptions) {
    this.classes = options.classes ?? XAPI_CLASSES;
    this.cache = new XapiRecordCache(this.classes);
    this.backoff = new Backoff(options.reconnectInitialMs ?? 500, options.reconnectMaxMs ?? 30_000);
    this.log = options.log ?? SILENT_LOG;
    this.firstSync.catch(() => undefined); // rejected only by stop(); a caller that never awaits it is fine
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** synced: the cache follows XAPI; recovering: a failure, resync pending (see lastError). */
  get state(): WatcherState {
    return this.current;
  }

  /** The failure that sent the watcher into recovering, until the next resync. */
  get lastError(): Error | null {
    return this.failure;
  }

  /** Resolves once the first full resync has been handed to onBatch; rejects if stopped before. */
  synced(): Promise<void> {
    return this.firstSync;
  }

  /** Full resyncs so far (the first included). */
  get resyncCount(): number {
    return this.resyncs;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.current = 'stopped';
    this.rejectSynced(new XapiTransportError('XAPI event watcher stopped before the first resync'));
  }

  private isStopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    let reason: ResyncReason = 'start';
    while (!this.isStopped()) {
      try {
        let token = await this.resync(reason);
        for (;;) token = await this.poll(token);
      } catch (error) {
        if (this.isStopped()) return;
        reason = await this.recover(error);
      }
    }
  }

  private async resync(reason: ResyncReason): Promise<string> {
    const signal = this.abort.signal;
    const pools = await this.client.callWith('pool.get_all', [], { signal });
    const pool: unknown = Array.isArray(pools) ? pools[0] : undefined;
    if (typeof pool !== 'string') throw new XapiProtocolError('pool.get_all: no pool');
    // The token first, then the records: a change made while fetching shows up as an event, never lost.
    const token = await this.client.callWith('event.inject', ['pool', pool], { signal });
    if (typeof token !== 'string') throw new XapiProtocolError('event.inject: the token is not a string');
    const tables = [];
    for (const cls of this.classes) tables.push({ cls, records: await this.client.getAllRecords(cls, { signal }) });
    // Swapped in together: readers never see some classes old and others new.
    for (const { cls, records } of tables) this.cache.replaceClass(cls, records);
    this.loginsSeen = this.client.loginCount;
    this.resyncs += 1;
    this.backoff.reset();
    this.current = 'synced';
    this.failure = null;
    this.log.info('XAPI records loaded', { reason, ...Object.fromEntries(this.classes.map((cls) => [cls, this.cache.size(cls)])) });
    await this.options.onBatch({ kind: 'resync', reason }, this.cache);
    this.resolveSynced();
    return token;
  }

  private async poll(token: string): Promise<string> {
    const timeoutS = this.options.pollTimeoutS ?? 30;
    // The fraction keeps the timeout a float on the wire, as XAPI's event.from declares it.
    // A lost session ends the poll (renewSession false): the records may have changed meanwhile, so resync.
    const result = await this.client.callWith('event.from', [this.classes, token, timeoutS + 0.1], {
      timeoutMs: timeoutS * 1000 + 15_000, signal: this.abort.signal, renewSession: false,
    });
    if (this.client.loginCount !== this.loginsSeen) throw new ResyncNeeded('a new session');
    const batch = parseEventFromResult(result, this.classes);
    this.cache.apply(batch.events);
    if (batch.events.length > 0) await this.options.onBatch({ kind: 'events', events: batch.events }, this.cache);
    return batch.token;
  }

  private async recover(error: unknown): Promise<ResyncReason> {
    this.current = 'recovering';
    this.failure = error instanceof Error ? error : new Error(String(error));
    if (error instanceof ResyncNeeded || isXapiError(error, SESSION_INVALID)) {
      this.log.info('XAPI session renewed or lost; resynchronizing');
      return 'session-renewed';
    }
    if (isXapiError(error, EVENTS_LOST)) {
      this.log.warn('XAPI lost events; resynchronizing');
      return 'events-lost';
    }
    const delayMs = this.backoff.next();
    this.log.warn('XAPI event loop failed; resynchronizing after a pause', {
      error: error instanceof Error ? error.message : String(error), delayMs,
    });
    await sleep(delayMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
    return error instanceof XapiTransportError ? 'reconnected' : 'error';
  }
}
