// One libvirt connection: typed domain operations, domain events, keepalive,
// and reconnect with backoff when libvirtd goes away, followed by 'resync' so
// the engine reconciles everything (events may have been missed meanwhile).
//
// Calls run on worker threads (koffi async) and are serialized per connection:
// libvirt keeps the last error per thread and per connection, and serializing
// is what makes the connection's last error belong to the call that failed.
// Domain handles never leave this module: each operation looks the domain up,
// uses it and frees it, so callers cannot leak them (openHandles() counts).
import { EventEmitter } from 'node:events';
import PQueue from 'p-queue';
import { Backoff } from '../common/backoff.js';
import { LIBVIRT_ERROR, LibvirtError } from './errors.js';
import { acquireEventLoop, releaseEventLoop } from './event-loop.js';
import { EVENT_ID, domainStateName, lifecycleNames, metadataTypeName } from './events.js';
import type { DomainEvent, DomainIdentity, DomainState } from './events.js';
import { CloseCallback, DeviceCallback, LifecycleCallback, MetadataCallback, api, callAsync, decodePointerArray, freePointer, register, unregister } from './ffi.js';
import type { Pointer, VirErrorFields } from './ffi.js';

const XML_INACTIVE = 2;
/** VIR_DOMAIN_DEFINE_VALIDATE: check the XML against libvirt's RNG schema before defining. */
const DEFINE_VALIDATE = 1;
const AFFECT_LIVE = 1;
const AFFECT_CONFIG = 2;
const METADATA_ELEMENT = 2;
const UUID_STRING_BYTES = 37;

let liveHandles = 0;
/** Domain handles currently held by this module (0 when nothing is in flight). */
export const openHandles = (): number => liveHandles;

export type DomainRef = { readonly name: string } | { readonly uuid: string };
export interface DomainInfo extends DomainIdentity {
  readonly state: DomainState;
  readonly persistent: boolean;
}
/**
 * Whose metadata element: an application's XML namespace and the prefix
 * libvirt writes it under. The caller's: this binding belongs to no application.
 */
export interface MetadataNamespace {
  readonly uri: string;
  readonly prefix: string;
}
export interface AffectFlags {
  readonly live?: boolean;
  readonly config?: boolean;
}

export interface ConnectionOptions {
  readonly uri: string;
  /** Seconds between keepalive probes and probes missed before the link is dead. */
  readonly keepAlive?: { readonly interval: number; readonly count: number };
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
}

export interface ConnectionEvents {
  event: [DomainEvent];
  disconnected: [reason: number];
  /** Reconnected with events registered again: reconcile everything. */
  resync: [];
  /**
   * A failure the connection carried on after (a reconnect attempt refused, the
   * dead connection not closed cleanly): for the owner's log; nothing to do.
   */
  warning: [error: Error];
}

const refText = (ref: DomainRef): string => ('name' in ref ? JSON.stringify(ref.name) : ref.uuid);
const affect = (flags: AffectFlags): number => (flags.live === true ? AFFECT_LIVE : 0) | (flags.config === true ? AFFECT_CONFIG : 0);

function identity(dom: Pointer): DomainIdentity {
  const buffer = Buffer.alloc(UUID_STRING_BYTES);
  api.domainGetUUIDString(dom, buffer);
  const id = api.domainGetID(dom);
  return { name: api.domainGetName(dom) ?? '', uuid: buffer.toString('utf8', 0, 36), id: id === 0xffffffff ? -1 : id };
}

export class LibvirtConnection extends EventEmitter<ConnectionEvents> {
  /** The virConnectPtr, or null while disconnected. */
  private conn: Pointer = null;
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly callbacks: bigint[] = [];
  private callbackIds: number[] = [];
  private closeCallback: bigint | null = null;
  private closing = false;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | null = null;

  private constructor(readonly options: ConnectionOptions) {
    super();
    this.backoff = new Backoff(options.reconnectInitialMs ?? 500, options.reconnectMaxMs ?? 10_000);
  }

  static async open(options: ConnectionOptions): Promise<LibvirtConnection> {
    const connection = new LibvirtConnection(options);
    acquireEventLoop();
    try {
      await connection.connect();
    } catch (error) {
      await releaseEventLoop();
      throw error;
    }
    return connection;
  }

  get isConnected(): boolean {
    return this.conn !== null;
  }

  private async connect(): Promise<void> {
    const conn = await callAsync(api.connectOpen, this.options.uri);
    if (conn === null) {
      const error: VirErrorFields = { code: 0, domain: 0, message: null, level: 0 };
      api.copyLastError(error); // virConnectOpen failed before a connection existed: the thread's error is lost, use what remains
      throw new LibvirtError(`cannot connect to ${this.options.uri}${error.message === null ? '' : `: ${error.message}`}`, {},
        { operation: 'virConnectOpen', libvirtCode: error.code, libvirtDomain: error.domain });
    }
    this.conn = conn;
    try {
      await this.setUp(conn);
    } catch (error) {
      // Half set up is not connected: close it, so a retry does not leak it (or its event callbacks).
      await this.teardown().catch((teardownError: unknown) => { this.warn('closing a half-opened connection', teardownError); });
      throw error;
    }
    this.backoff.reset();
  }

  private async setUp(conn: Pointer): Promise<void> {
    const keepAlive = this.options.keepAlive ?? { interval: 5, count: 3 };
    // Only connections through libvirtd support keepalive; local drivers answer -1 and that is fine.
    await callAsync(api.connectSetKeepAlive, conn, keepAlive.interval, keepAlive.count);
    api.connResetLastError(conn);
    this.closeCallback ??= register((_conn: Pointer, reason: number) => { this.onClosed(reason); }, CloseCallback);
    await callAsync(api.connectRegisterCloseCallback, conn, this.closeCallback, null, null);
    api.connResetLastError(conn);
    this.registerEvents(conn);
  }

  private registerEvents(conn: Pointer): void {
    const emit = (event: DomainEvent): void => { this.emit('event', event); };
    const lifecycle = register((_c: Pointer, dom: Pointer, event: number, detail: number) => {
      emit({ type: 'lifecycle', ...lifecycleNames(event, detail), code: event, detailCode: detail, domain: identity(dom) });
      return 0;
    }, LifecycleCallback);
    const device = (type: 'device-added' | 'device-removed' | 'device-removal-failed'): bigint =>
      register((_c: Pointer, dom: Pointer, alias: string | null) => { emit({ type, device: alias ?? '', domain: identity(dom) }); }, DeviceCallback);
    const table: [number, bigint][] = [
      [EVENT_ID.lifecycle, lifecycle],
      [EVENT_ID.deviceAdded, device('device-added')],
      [EVENT_ID.deviceRemoved, device('device-removed')],
      [EVENT_ID.deviceRemovalFailed, device('device-removal-failed')],
      [EVENT_ID.metadataChange, register((_c: Pointer, dom: Pointer, type: number, namespace: string | null) => {
        emit({ type: 'metadata-change', metadata: metadataTypeName(type), namespace, domain: identity(dom) });
      }, MetadataCallback)],
    ];
    for (const [eventId, callback] of table) {
      this.callbacks.push(callback);
      const id = api.connectDomainEventRegisterAny(conn, null, eventId, callback, null, null);
      if (id < 0) throw this.error(`virConnectDomainEventRegisterAny(${eventId})`);
      this.callbackIds.push(id);
    }
  }

  /** libvirt must not be called from inside its close callback: tear down afterwards. */
  private onClosed(reason: number): void {
    if (this.closing) return;
    setImmediate(() => {
      this.afterClosed(reason).catch((error: unknown) => { this.warn('handling the lost connection', error); });
    });
  }

  /** Whatever the teardown or a 'disconnected' listener does, the reconnect is scheduled. */
  private async afterClosed(reason: number): Promise<void> {
    try {
      await this.teardown();
    } catch (error) {
      this.warn('closing the lost connection', error); // the handle is dropped all the same: reconnecting opens a new one
    }
    try {
      this.emit('disconnected', reason);
    } finally {
      this.scheduleReconnect();
    }
  }

  /** Reported through 'warning', never thrown: an emitter's 'error' event would crash an owner that does not listen. */
  private warn(what: string, error: unknown): void {
    const detail = error instanceof Error ? error.message : String(error);
    this.emit('warning', new LibvirtError(`${what} (${this.options.uri}): ${detail}`, {}, { cause: error }));
  }

  private async teardown(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn === null) return;
    for (const id of this.callbackIds) api.connectDomainEventDeregisterAny(conn, id);
    this.callbackIds = [];
    if (this.closeCallback !== null) api.connectUnregisterCloseCallback(conn, this.closeCallback);
    await callAsync(api.connectClose, conn);
    for (const callback of this.callbacks.splice(0)) unregister(callback);
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer !== null) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.reconnect(delay).catch((error: unknown) => { this.warn('after reconnecting', error); });
    }, delay);
  }

  private async reconnect(waitedMs: number): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      this.warn(`reconnect attempt after ${waitedMs} ms failed`, error);
      this.scheduleReconnect();
      return;
    }
    if (this.closing) {
      await this.teardown(); // close() ran while this attempt was under way and found nothing to close
      return;
    }
    this.emit('resync'); // a listener that throws is reported by the caller's catch, as a warning
  }

  /** Closes the connection, its callbacks and (when last) the event loop. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    await this.queue.onIdle();
    await this.teardown();
    if (this.closeCallback !== null) unregister(this.closeCallback);
    this.closeCallback = null;
    await releaseEventLoop();
  }

  private error(operation: string, context: ConstructorParameters<typeof LibvirtError>[1] = {}): LibvirtError {
    const fields: VirErrorFields = { code: 0, domain: 0, message: null, level: 0 };
    if (this.conn !== null) {
      api.connCopyLastError(this.conn, fields);
      api.connResetLastError(this.conn);
    }
    // libvirt's XML errors span lines (a caret under the text); errors here are one line.
    const message = (fields.message ?? 'unknown libvirt error').replace(/\s*\n\s*/g, ' ').trim();
    return new LibvirtError(`${operation} failed: ${message}`, context,
      { operation, libvirtCode: fields.code, libvirtDomain: fields.domain });
  }

  /** Runs `work` on this connection, serialized; null or -1 from `work` is a libvirt failure. */
  private async run<R>(operation: string, context: ConstructorParameters<typeof LibvirtError>[1], work: (conn: Pointer) => Promise<R | null>): Promise<R> {
    const result = await this.queue.add(async () => {
      const conn = this.conn;
      if (conn === null) throw new LibvirtError(`${operation}: not connected to ${this.options.uri}`, context, { operation });
      const value = await work(conn);
      if (value === null || value === -1) throw this.error(operation, context);
      return value;
    });
    return result;
  }

  private async lookup(conn: Pointer, ref: DomainRef): Promise<Pointer> {
    const dom = 'name' in ref ? await callAsync(api.domainLookupByName, conn, ref.name) : await callAsync(api.domainLookupByUUIDString, conn, ref.uuid);
    if (dom !== null) liveHandles++;
    return dom;
  }

  private static free(dom: Pointer): void {
    api.domainFree(dom);
    liveHandles--;
  }

  /** Looks the domain up, runs `work` on it, frees it; failures name the VM. */
  private withDomain<R>(ref: DomainRef, operation: string, work: (dom: Pointer) => Promise<R | null>): Promise<R> {
    const context = 'name' in ref ? { domain: ref.name } : { vmUuid: ref.uuid };
    return this.run(operation, context, async (conn) => {
      const dom = await this.lookup(conn, ref);
      if (dom === null) throw this.error(`lookup of domain ${refText(ref)}`, context);
      try {
        const result = await work(dom);
        if (result === null || result === -1) throw this.error(operation, { ...context, domain: identity(dom).name });
        return result;
      } finally {
        LibvirtConnection.free(dom);
      }
    });
  }

  private static async describe(dom: Pointer): Promise<DomainInfo> {
    const state: [number] = [0];
    const reason: [number] = [0];
    const stateOk = await callAsync(api.domainGetState, dom, state, reason, 0);
    const persistent = await callAsync(api.domainIsPersistent, dom);
    return { ...identity(dom), state: stateOk < 0 ? 'unknown' : domainStateName(state[0]), persistent: persistent === 1 };
  }

  /** Every domain, running or defined. */
  listDomains(): Promise<DomainInfo[]> {
    return this.run('virConnectListAllDomains', {}, async (conn) => {
      const out: [Pointer] = [null];
      const count = await callAsync(api.connectListAllDomains, conn, out, 0);
      if (count < 0) return null;
      const handles = count === 0 ? [] : decodePointerArray(out[0], count);
      liveHandles += handles.length;
      try {
        const infos: DomainInfo[] = [];
        for (const dom of handles) infos.push(await LibvirtConnection.describe(dom));
        return infos;
      } finally {
        for (const dom of handles) LibvirtConnection.free(dom);
        if (out[0] !== null) freePointer(out[0]);
      }
    });
  }

  getDomain(ref: DomainRef): Promise<DomainInfo> {
    return this.withDomain(ref, 'describe domain', (dom) => LibvirtConnection.describe(dom));
  }

  domainXml(ref: DomainRef, options: { inactive?: boolean } = {}): Promise<string> {
    return this.withDomain(ref, 'virDomainGetXMLDesc', (dom) => callAsync(api.domainGetXMLDesc, dom, options.inactive === true ? XML_INACTIVE : 0));
  }

  /** Defines (or redefines) a domain; with `validate`, libvirt first checks the XML against its schema. */
  defineDomain(xml: string, options: { validate?: boolean } = {}): Promise<DomainInfo> {
    const validate = options.validate === true;
    return this.run(validate ? 'virDomainDefineXMLFlags' : 'virDomainDefineXML', {}, async (conn) => {
      const dom = await (validate ? callAsync(api.domainDefineXMLFlags, conn, xml, DEFINE_VALIDATE) : callAsync(api.domainDefineXML, conn, xml));
      if (dom === null) return null;
      liveHandles++;
      try {
        return await LibvirtConnection.describe(dom);
      } finally {
        LibvirtConnection.free(dom);
      }
    });
  }

  async undefineDomain(ref: DomainRef, flags = 0): Promise<void> {
    await this.withDomain(ref, 'virDomainUndefineFlags', (dom) => callAsync(api.domainUndefineFlags, dom, flags));
  }

  async startDomain(ref: DomainRef): Promise<void> {
    await this.withDomain(ref, 'virDomainCreate', (dom) => callAsync(api.domainCreate, dom));
  }

  async destroyDomain(ref: DomainRef): Promise<void> {
    await this.withDomain(ref, 'virDomainDestroy', (dom) => callAsync(api.domainDestroy, dom));
  }

  async attachDevice(ref: DomainRef, xml: string, flags: AffectFlags): Promise<void> {
    await this.withDomain(ref, 'virDomainAttachDeviceFlags', (dom) => callAsync(api.domainAttachDeviceFlags, dom, xml, affect(flags)));
  }

  async detachDevice(ref: DomainRef, xml: string, flags: AffectFlags): Promise<void> {
    await this.withDomain(ref, 'virDomainDetachDeviceFlags', (dom) => callAsync(api.domainDetachDeviceFlags, dom, xml, affect(flags)));
  }

  /** The metadata element in `namespace` (XML text), or null when the domain has none. */
  async getMetadata(ref: DomainRef, namespace: MetadataNamespace, flags: AffectFlags = {}): Promise<string | null> {
    try {
      return await this.withDomain(ref, 'virDomainGetMetadata', (dom) => callAsync(api.domainGetMetadata, dom, METADATA_ELEMENT, namespace.uri, affect(flags)));
    } catch (error) {
      if (error instanceof LibvirtError && error.libvirtCode === LIBVIRT_ERROR.noDomainMetadata) return null;
      throw error;
    }
  }

  /**
   * Sets (or with null removes) the metadata element in `namespace`. Pass the
   * element without a namespace declaration (`<app><limit>3</limit></app>`):
   * libvirt puts it in the namespace under `namespace.prefix` itself.
   */
  async setMetadata(ref: DomainRef, namespace: MetadataNamespace, xml: string | null, flags: AffectFlags = {}): Promise<void> {
    await this.withDomain(ref, 'virDomainSetMetadata', (dom) =>
      callAsync(api.domainSetMetadata, dom, METADATA_ELEMENT, xml, xml === null ? null : namespace.prefix, namespace.uri, affect(flags)));
  }
}
