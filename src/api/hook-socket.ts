// The hook socket: the libvirt hook's fast path. hooks/qemu.d/vifd streams
// to it with netcat (`nc -U -N`), so no node process starts on a VM's start
// or stop. One request per connection, in a format a shell pipeline can
// write without ever putting VM data into a shell string:
//   client: `<op> <subop>\n`, then the domain XML until it half-closes
//   server: ONE line, `ok` or `refused <one-line reason>`, then it closes
// op is one of libvirt's own words (prepare, release, migrate, restore) and
// subop one of begin, end, -. For migrate libvirt reads a replacement XML
// from the hook's stdout; vifd never replaces it, so the line is only `ok`.
// Every request is bounded: the XML by HOOK_MAX_XML_BYTES (the rest is never
// read), the whole exchange by a deadline. A connection that closes without
// sending a byte is a liveness probe (`nc -z`) and gets no answer.
import net from 'node:net';
import { resolve } from 'node:path';
import { MAX_DOMAIN_XML_BYTES } from '../model/limits.js';
import { errnoCode } from './errors.js';
import { publishSocket, shutdownSocketServer } from './socket-file.js';
import type { PublishedSocket } from './socket-file.js';

/** Where the hook looks first (hooks/qemu.d/vifd); beside the control socket, /run/vifd/vifd.sock. */
export const DEFAULT_HOOK_SOCKET_PATH = '/run/vifd/hook.sock';
/**
 * The largest domain XML accepted: 1 MiB. A definition with 7 interfaces is a
 * few KiB; even one with many disks and a long description stays far below.
 * Anything larger is refused before more of it is read.
 */
export const HOOK_MAX_XML_BYTES = MAX_DOMAIN_XML_BYTES;
/** How long one exchange may take, from accept to the verdict; the shim waits a little longer (65 s) so it hears this refusal. */
export const HOOK_DEADLINE_MS = 60_000;
export const HOOK_OPS = ['prepare', 'release', 'migrate', 'restore'] as const;
export type HookOp = (typeof HOOK_OPS)[number];
const HOOK_SUBOPS: ReadonlySet<string> = new Set(['begin', 'end', '-']);
/** `release begin` is 13 bytes; a header longer than this is garbage, refused without waiting for its end. */
const MAX_HEADER_BYTES = 64;
const NEWLINE = 0x0a;
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
  | { readonly kind: 'request'; readonly op: HookOp; readonly xml: string };

/**
 * The request's framing, with no I/O: push() each chunk as it arrives (it
 * refuses as soon as the header is wrong or the XML too long), finish() at the
 * peer's end of stream. Never holds more than the header limit plus maxXmlBytes.
 */
export class HookFrameReader {
  #header: Buffer[] = [];
  #headerBytes = 0;
  #op: HookOp | undefined;
  #body: Buffer[] = [];
  #bodyBytes = 0;
  #refusal: string | undefined;

  constructor(readonly maxXmlBytes: number = HOOK_MAX_XML_BYTES) {}

  push(chunk: Buffer): HookFrame {
    if (this.#refusal !== undefined) return { kind: 'refuse', reason: this.#refusal };
    let rest = chunk;
    if (this.#op === undefined) {
      const end = chunk.indexOf(NEWLINE);
      const piece = end === -1 ? chunk : chunk.subarray(0, end);
      if (this.#headerBytes + piece.length > MAX_HEADER_BYTES) return this.#refuse(badHeader({ wrong: `longer than ${MAX_HEADER_BYTES} bytes` }));
      this.#header.push(piece);
      this.#headerBytes += piece.length;
      if (end === -1) return { kind: 'more' };
      const parsed = parseHeader(Buffer.concat(this.#header).toString('latin1'));
      if (typeof parsed !== 'string' || !isHookOp(parsed)) return this.#refuse(badHeader(parsed));
      this.#op = parsed;
      this.#header = [];
      rest = chunk.subarray(end + 1);
    }
    if (this.#bodyBytes + rest.length > this.maxXmlBytes) {
      this.#body = [];
      return this.#refuse(`the domain XML is larger than ${this.maxXmlBytes} bytes (the hook socket's limit); nothing was done`);
    }
    if (rest.length > 0) this.#body.push(rest);
    this.#bodyBytes += rest.length;
    return { kind: 'more' };
  }

  finish(): HookFrame {
    if (this.#refusal !== undefined) return { kind: 'refuse', reason: this.#refusal };
    if (this.#op === undefined) {
      return this.#headerBytes === 0 ? { kind: 'probe' } : this.#refuse('the connection ended inside the header line; nothing was done');
    }
    const xml = Buffer.concat(this.#body).toString('utf8');
    this.#body = [];
    return { kind: 'request', op: this.#op, xml };
  }

  #refuse(reason: string): HookFrame {
    this.#refusal = reason;
    return { kind: 'refuse', reason };
  }
}

function isHookOp(word: string): word is HookOp {
  return (HOOK_OPS as readonly string[]).includes(word);
}

/** The op of a well-formed header, or a description of what was wrong with it. */
function parseHeader(line: string): string | { readonly wrong: string } {
  const words = line.replace(/\r$/, '').split(' ');
  const [op, subop] = words;
  if (words.length !== 2 || op === undefined || subop === undefined) return { wrong: `${words.length} word(s)` };
  if (!HOOK_SUBOPS.has(subop)) return { wrong: `sub-operation ${JSON.stringify(subop)}` };
  return op;
}

function badHeader(what: string | { readonly wrong: string }): string {
  const seen = typeof what === 'string' ? `operation ${JSON.stringify(what)}` : what.wrong;
  return `bad header (${seen}): expected "<op> <subop>" with op one of ${HOOK_OPS.join(', ')} and subop one of begin, end, -`;
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

  private constructor(readonly path: string, private readonly handler: HookHandler, options: HookSocketOptions) {
    this.#maxXmlBytes = options.maxXmlBytes ?? HOOK_MAX_XML_BYTES;
    this.#deadlineMs = options.deadlineMs ?? HOOK_DEADLINE_MS;
    this.#onError = options.onError ?? ((error) => { process.stderr.write(`vifd hook socket: ${messageOf(error)}\n`); });
    // Half-open: the client's end of stream marks the end of the XML, and the verdict still has to go back.
    this.#server = net.createServer({ allowHalfOpen: true }, (socket) => { this.#accept(socket); });
  }

  /** Listens on `path` (mode 0600, missing parent directories 0700), replacing a stale socket, never a live one. */
  static async listen(path: string, handler: HookHandler, options: HookSocketOptions = {}): Promise<HookSocketServer> {
    const server = new HookSocketServer(resolve(path), handler, options);
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
        const { op } = frame;
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
