// The hook sockets: the libvirt hook's fast path. hooks/qemu.d/vifd streams
// the domain XML to them with netcat (`nc -U -N`), so no node process starts
// on a VM's start, stop or migration. One socket per operation
// (`hook-<op>.sock`), because the shim can then hand nc its stdin untouched:
// nc connects before it reads a byte, so when no daemon listens (a stale
// socket of a killed vifd) the XML is still whole for the node program, with
// no probe exec first. One request per connection:
//   client: the domain XML until it half-closes
//   server: ONE line, `ok` or `refused <one-line reason>`, then it closes
// For migrate libvirt reads a replacement XML from the hook's stdout; vifd
// never replaces it, so the line is only `ok` or a refusal.
// Every request is bounded: the XML by HOOK_MAX_XML_BYTES (the rest is never
// read), the whole exchange by a deadline. A connection that closes without
// sending a byte is a liveness probe (`nc -z`) and gets no answer.
import net from 'node:net';
import { join, resolve } from 'node:path';
import { MAX_DOMAIN_XML_BYTES } from '../model/limits.js';
import { errnoCode } from './errors.js';
import { publishSocket, shutdownSocketServer } from './socket-file.js';
import type { PublishedSocket } from './socket-file.js';

/** Where the hook looks first (hooks/qemu.d/vifd): the control socket's directory. */
export const DEFAULT_HOOK_SOCKET_DIR = '/run/vifd';
/**
 * The largest domain XML accepted: 1 MiB. A definition with 7 interfaces is a
 * few KiB; even one with many disks and a long description stays far below.
 * Anything larger is refused before more of it is read.
 */
export const HOOK_MAX_XML_BYTES = MAX_DOMAIN_XML_BYTES;
/** How long one exchange may take, from accept to the verdict; the shim waits a little longer (65 s) so it hears this refusal. */
export const HOOK_DEADLINE_MS = 60_000;
/** libvirt's qemu hook operations vifd answers (restore and the rest need nothing from it). */
export const HOOK_OPS = ['prepare', 'release', 'migrate'] as const;
export type HookOp = (typeof HOOK_OPS)[number];

/** The socket of one operation in `dir`; the shim builds the same name from the op word it checked. */
export function hookSocketPath(dir: string, op: HookOp): string {
  return join(dir, `hook-${op}.sock`);
}
/** How long a refused peer that is still sending is read (and ignored) before it is cut off. */
const DRAIN_GRACE_MS = 1_000;
const PEER_GONE = new Set(['EPIPE', 'ECONNRESET']);

export type HookVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };
/** Decides one hook call. It should not throw; if it does, the call is refused with the error's message. */
export type HookHandler = (op: HookOp, xml: string) => Promise<HookVerdict>;

export interface HookSocketOptions {
  /** Default HOOK_MAX_XML_BYTES. */
  readonly maxXmlBytes?: number;
  /** Default HOOK_DEADLINE_MS. */
  readonly deadlineMs?: number;
  /** Failures no caller can be told about (a handler that threw, a socket error). Default: a line on stderr. */
  readonly onError?: (error: unknown) => void;
}

/** Runs `work` and turns its outcome into a verdict: a rejection's message is the reason. */
export async function verdictOf(work: () => Promise<unknown>): Promise<HookVerdict> {
  try {
    await work();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: messageOf(error) };
  }
}

/** What one connection has sent so far, as far as the protocol is concerned. */
export type HookFrame =
  | { readonly kind: 'more' }
  | { readonly kind: 'refuse'; readonly reason: string }
  | { readonly kind: 'probe' }
  | { readonly kind: 'request'; readonly xml: string };

/**
 * The request's framing, with no I/O: push() each chunk as it arrives (it
 * refuses as soon as the XML is too long), finish() at the peer's end of
 * stream. Never holds more than maxXmlBytes.
 */
export class HookFrameReader {
  #body: Buffer[] = [];
  #bodyBytes = 0;
  #refusal: string | undefined;

  constructor(readonly maxXmlBytes: number = HOOK_MAX_XML_BYTES) {}

  push(chunk: Buffer): HookFrame {
    if (this.#refusal !== undefined) return { kind: 'refuse', reason: this.#refusal };
    if (this.#bodyBytes + chunk.length > this.maxXmlBytes) {
      this.#body = [];
      this.#refusal = `the domain XML is larger than ${this.maxXmlBytes} bytes (the hook socket's limit); nothing was done`;
      return { kind: 'refuse', reason: this.#refusal };
    }
    if (chunk.length > 0) this.#body.push(chunk);
    this.#bodyBytes += chunk.length;
    return { kind: 'more' };
  }

  finish(): HookFrame {
    if (this.#refusal !== undefined) return { kind: 'refuse', reason: this.#refusal };
    if (this.#bodyBytes === 0) return { kind: 'probe' };
    const xml = Buffer.concat(this.#body).toString('utf8');
    this.#body = [];
    return { kind: 'request', xml };
  }
}

/** A verdict as its line: the reason is the daemon's own text, kept on one line with no control characters. */
export function verdictLine(verdict: HookVerdict): string {
  if (verdict.ok) return 'ok\n';
  // eslint-disable-next-line no-control-regex -- the point is to remove control characters
  const reason = verdict.reason.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return `refused ${reason === '' ? 'no reason given' : reason}\n`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class HookSocketServer {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #maxXmlBytes: number;
  readonly #deadlineMs: number;
  readonly #onError: (error: unknown) => void;
  #published: PublishedSocket | undefined;
  #closing: Promise<void> | undefined;

  private constructor(readonly path: string, readonly op: HookOp, private readonly handler: HookHandler, options: HookSocketOptions) {
    this.#maxXmlBytes = options.maxXmlBytes ?? HOOK_MAX_XML_BYTES;
    this.#deadlineMs = options.deadlineMs ?? HOOK_DEADLINE_MS;
    this.#onError = options.onError ?? ((error) => { process.stderr.write(`vifd hook socket: ${messageOf(error)}\n`); });
    // Half-open: the client's end of stream marks the end of the XML, and the verdict still has to go back.
    this.#server = net.createServer({ allowHalfOpen: true }, (socket) => { this.#accept(socket); });
  }

  /** Listens for `op` on `path` (mode 0600, missing parent directories 0700), replacing a stale socket, never a live one. */
  static async listen(path: string, op: HookOp, handler: HookHandler, options: HookSocketOptions = {}): Promise<HookSocketServer> {
    const server = new HookSocketServer(resolve(path), op, handler, options);
    try {
      server.#published = await publishSocket(server.#server, path, (error) => { server.#onError(error); });
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  /** Stops listening, removes the socket file (a hook then falls back to the node program) and drops open connections. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await shutdownSocketServer(this.#published, this.#server, this.#sockets, this.#onError);
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    const reader = new HookFrameReader(this.#maxXmlBytes);
    let answered = false;
    let handling = false;
    let cutOff: NodeJS.Timeout | undefined;
    const answer = (line: string | null): void => {
      if (answered) return;
      answered = true;
      clearTimeout(deadline);
      if (line === null || !socket.writable) {
        socket.destroy();
        return;
      }
      // After both ends the socket closes by itself. A peer refused before the
      // end of its XML is still sending: what it sends is read and dropped
      // (never buffered) for a moment, because closing on unread data would
      // reset the connection and its read could lose this line.
      socket.end(line);
      cutOff = setTimeout(() => socket.destroy(), DRAIN_GRACE_MS);
    };
    const deadline = setTimeout(() => {
      const seconds = this.#deadlineMs / 1000;
      answer(verdictLine({ ok: false, reason: handling ? `vifd gave no verdict within ${seconds} s` : `the hook's request did not end within ${seconds} s` }));
    }, this.#deadlineMs);
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      const frame = reader.push(chunk);
      if (frame.kind === 'refuse') answer(verdictLine({ ok: false, reason: frame.reason }));
    });
    socket.on('end', () => {
      if (answered) return;
      const frame = reader.finish();
      if (frame.kind === 'probe') answer(null);
      else if (frame.kind === 'refuse') answer(verdictLine({ ok: false, reason: frame.reason }));
      else if (frame.kind === 'request') {
        handling = true;
        // A verdict that cannot be written is reported, and the connection cut so the hook stops waiting.
        const { op } = this;
        this.#decide(op, frame.xml).then((verdict) => { answer(verdictLine(verdict)); }).catch((error: unknown) => {
          this.#onError(new Error(`answering ${op}: ${messageOf(error)}`, { cause: error }));
          socket.destroy();
        });
      }
    });
    socket.on('error', (error) => {
      if (!PEER_GONE.has(errnoCode(error) ?? '')) this.#onError(error);
    });
    socket.on('close', () => {
      clearTimeout(deadline);
      clearTimeout(cutOff);
      answered = true;
      this.#sockets.delete(socket);
    });
  }

  /** The handler's verdict; a handler that throws refuses the call (and is reported), it never takes the daemon down. */
  async #decide(op: HookOp, xml: string): Promise<HookVerdict> {
    try {
      return await this.handler(op, xml);
    } catch (error) {
      this.#onError(error);
      return { ok: false, reason: messageOf(error) };
    }
  }
}
