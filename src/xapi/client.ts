// vifd's XAPI client: JSON-RPC 2.0 over HTTP/1.1 to the local unix socket or
// an https URL, no runtime dependency. It holds one session: a call that meets
// SESSION_INVALID logs in again and is retried once; HOST_IS_SLAVE moves the
// client to the master the member names (same scheme and port) and retries.
// `loginCount` lets the event watcher notice a new session and resynchronize.
import type { XapiCredentials } from './credentials.js';
import { HOST_IS_SLAVE, SESSION_INVALID, XapiError, XapiProtocolError, XapiTransportError, isXapiError } from './errors.js';
import { JSONRPC_PATH, decodeReply, encodeCall } from './jsonrpc.js';
import { parseAllRecords } from './records.js';
import type { XapiRecord } from './records.js';
import { HttpTransport, describeEndpoint, withHost } from './transport.js';
import type { XapiEndpoint } from './transport.js';

/** The daemon's logger fits (EngineLog has this shape). */
export interface XapiLog {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

const ignore = (): void => undefined;
export const SILENT_LOG: XapiLog = { error: ignore, warn: ignore, info: ignore, debug: ignore };

/** Local logins over xapi's unix socket are trusted: root with no password. */
export const LOCAL_CREDENTIALS: XapiCredentials = { username: 'root', password: '' };
const API_VERSION = '1.0';
const ORIGINATOR = 'vifd';
/** Members naming masters that are members again: give up after this many hops. */
const MAX_REDIRECTS = 3;

export interface XapiClientOptions {
  readonly endpoint: XapiEndpoint;
  /** Needed for https; the local unix socket needs none. */
  readonly credentials?: XapiCredentials;
  /** PEM CA for https. */
  readonly ca?: string | Buffer;
  /** Per call, unless the call says otherwise (event.from does). Default 60 s. */
  readonly callTimeoutMs?: number;
  readonly log?: XapiLog;
}

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** false: SESSION_INVALID is thrown, not answered by a new login and a retry (the event loop resyncs instead). */
  readonly renewSession?: boolean;
}

export class XapiClient {
  private transport: HttpTransport;
  private sessionRef: string | null = null;
  private loggingIn: Promise<string> | null = null;
  private lastId = 0;
  private logins = 0;
  private closed = false;
  private readonly log: XapiLog;

  constructor(private readonly options: XapiClientOptions) {
    this.transport = new HttpTransport(options.endpoint, { ca: options.ca });
    this.log = options.log ?? SILENT_LOG;
  }

  /** Where calls go now (after a HOST_IS_SLAVE redirect, the master). */
  get endpoint(): XapiEndpoint {
    return this.transport.endpoint;
  }

  get session(): string | null {
    return this.sessionRef;
  }

  /** Successful logins so far; a change means a new session (xapi restarted, session expired, redirect). */
  get loginCount(): number {
    return this.logins;
  }

  /** Logs in (once, however many callers ask at the same time); returns the session ref. */
  login(options: CallOptions = {}): Promise<string> {
    this.loggingIn ??= this.openSession(options).finally(() => { this.loggingIn = null; });
    return this.loggingIn;
  }

  private async openSession(options: CallOptions): Promise<string> {
    const { username, password } = this.options.credentials ?? LOCAL_CREDENTIALS;
    for (let hops = 0; ; hops += 1) {
      try {
        const session = await this.send('session.login_with_password', [username, password, API_VERSION, ORIGINATOR], options);
        if (typeof session !== 'string') throw new XapiProtocolError('session.login_with_password: the session is not a string');
        this.sessionRef = session;
        this.logins += 1;
        this.log.debug('XAPI session opened', { endpoint: describeEndpoint(this.endpoint), logins: this.logins });
        return session;
      } catch (error) {
        if (hops < MAX_REDIRECTS && isXapiError(error, HOST_IS_SLAVE) && this.redirect(error)) continue;
        throw error;
      }
    }
  }

  /** Follows HOST_IS_SLAVE [master address]; false when there is nowhere to go (unix socket, no address). */
  private redirect(error: XapiError): boolean {
    const master = error.params[0];
    if (this.endpoint.kind === 'unix' || master === undefined || master === '') return false;
    const next = withHost(this.endpoint, master);
    this.log.info('XAPI host is a pool member; going to the master', { from: describeEndpoint(this.endpoint), to: describeEndpoint(next) });
    this.transport.close();
    this.transport = new HttpTransport(next, { ca: this.options.ca });
    this.sessionRef = null;
    return true;
  }

  /** `method(session, ...params)`. */
  call(method: string, ...params: unknown[]): Promise<unknown> {
    return this.callWith(method, params);
  }

  async callWith(method: string, params: readonly unknown[], options: CallOptions = {}): Promise<unknown> {
    let retried = false;
    for (;;) {
      const session = this.sessionRef ?? (await this.login(options));
      try {
        return await this.send(method, [session, ...params], options);
      } catch (error) {
        if (retried || !(error instanceof XapiError)) throw error;
        retried = true;
        if (error.xapiCode === SESSION_INVALID && options.renewSession !== false) {
          // Only the first caller to see this session fail drops it; the others reuse the new one.
          if (this.sessionRef === session) this.sessionRef = null;
          continue;
        }
        if (error.xapiCode === HOST_IS_SLAVE && this.redirect(error)) continue;
        throw error;
      }
    }
  }

  /** A call that takes no session, e.g. system.listMethods. */
  callWithoutSession(method: string, params: readonly unknown[] = [], options: CallOptions = {}): Promise<unknown> {
    return this.send(method, params, options);
  }

  async getAllRecords(cls: string, options: CallOptions = {}): Promise<Map<string, XapiRecord>> {
    return parseAllRecords(await this.callWith(`${cls}.get_all_records`, [], options), cls);
  }

  private async send(method: string, params: readonly unknown[], options: CallOptions): Promise<unknown> {
    if (this.closed) throw new XapiTransportError(`XAPI ${method}: the client is closed`);
    this.lastId += 1;
    const id = this.lastId;
    const reply = await this.transport.post(JSONRPC_PATH, encodeCall(id, method, params), {
      timeoutMs: options.timeoutMs ?? this.options.callTimeoutMs ?? 60_000, signal: options.signal,
    });
    return decodeReply(reply, id, method);
  }

  /** Ends the session (best effort: a session left behind times out on the host). */
  async logout(): Promise<void> {
    const session = this.sessionRef;
    this.sessionRef = null;
    if (session === null || this.closed) return;
    await this.send('session.logout', [session], { timeoutMs: 5000 }).catch((error: unknown) => {
      this.log.debug('XAPI logout failed', { error: error instanceof Error ? error.message : String(error) });
    });
  }

  /** Ends every connection; calls in flight fail with XapiTransportError. */
  close(): void {
    this.closed = true;
    this.transport.close();
  }
}
