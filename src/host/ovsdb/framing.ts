// OVSDB's JSON-RPC has no length prefix: messages are JSON values back to
// back on a stream. This splitter finds where each top-level value ends by
// tracking nesting depth *outside strings*, honouring backslash escapes, so a
// brace or quote inside a port name or external_id cannot break framing (the
// failure of brace-counting clients). It scans bytes: every structural
// character is ASCII and UTF-8 continuation bytes are all >= 0x80, so a
// multibyte character split across chunks is only decoded once complete.
import { HostOperationError } from '../errors.js';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** RFC 7047 §4.1 requires objects or arrays at top level; whitespace between is skipped. */
const isWhitespace = (byte: number): boolean => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export class FramingError extends HostOperationError {}

export class JsonStreamSplitter {
  /** Parts of the message in progress; joined once, when it completes. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** Feeds bytes from the socket; returns every message they complete, parsed. */
  push(chunk: Buffer): unknown[] {
    const messages: unknown[] = [];
    let start = 0;
    for (let at = 0; at < chunk.length; at++) {
      const byte = chunk[at] ?? 0;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (isWhitespace(byte)) {
          start = at + 1;
          continue;
        }
        if (byte !== OPEN_BRACE && byte !== OPEN_BRACKET) {
          throw new FramingError(`OVSDB stream: expected '{' or '[' to start a message, got byte 0x${byte.toString(16)}`);
        }
      }
      if (byte === QUOTE) this.inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 0) {
          messages.push(this.complete(chunk.subarray(start, at + 1)));
          start = at + 1;
        }
      }
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingLength += chunk.length - start;
      if (this.pendingLength > this.maxMessageBytes) {
        throw new FramingError(`OVSDB stream: a message exceeds ${this.maxMessageBytes} bytes`);
      }
    }
    return messages;
  }

  private complete(tail: Buffer): unknown {
    const body = this.pending.length === 0 ? tail : Buffer.concat([...this.pending, tail]);
    this.pending = [];
    this.pendingLength = 0;
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch (error) {
      throw new FramingError(`OVSDB stream: malformed JSON message (${(error as Error).message})`, {}, { cause: error });
    }
  }

  /** Bytes of an incomplete message still waiting for the rest. */
  get pendingBytes(): number {
    return this.pendingLength;
  }
}
