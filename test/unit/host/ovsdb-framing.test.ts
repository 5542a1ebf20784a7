import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FramingError, JsonStreamSplitter } from '../../../src/host/ovsdb/framing.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Feeds `data` split at the given offsets; returns all messages. */
function feed(splitter: JsonStreamSplitter, data: Buffer, cuts: number[]): unknown[] {
  const points = [...new Set(cuts.map((cut) => cut % (data.length + 1)))].sort((a, b) => a - b);
  const out: unknown[] = [];
  let from = 0;
  for (const point of [...points, data.length]) {
    out.push(...splitter.push(data.subarray(from, point)));
    from = point;
  }
  return out;
}

describe('host/ovsdb/framing: splitting the JSON-RPC stream', () => {
  it('returns each complete message, several per chunk, skipping whitespace between', () => {
    const splitter = new JsonStreamSplitter();
    assert.deepEqual(splitter.push(bytes('{"id":1,"result":[]}\n {"id":2,"result":{}}[1]')), [
      { id: 1, result: [] }, { id: 2, result: {} }, [1],
    ]);
    assert.equal(splitter.pendingBytes, 0);
  });

  it('waits for the rest of a message split across chunks', () => {
    const splitter = new JsonStreamSplitter();
    assert.deepEqual(splitter.push(bytes('{"method":"echo","par')), []);
    assert.ok(splitter.pendingBytes > 0);
    assert.deepEqual(splitter.push(bytes('ams":[],"id":"e"}')), [{ method: 'echo', params: [], id: 'e' }]);
  });

  it('is not fooled by braces, brackets, quotes and escapes inside strings', () => {
    const tricky = { name: 'br}{[x]', ids: { 'k"}': 'v\\"{', path: 'C:\\\\' }, end: '\\' };
    const splitter = new JsonStreamSplitter();
    const text = JSON.stringify(tricky);
    for (let cut = 0; cut <= text.length; cut++) {
      assert.deepEqual(feed(new JsonStreamSplitter(), bytes(text + text), [cut]), [tricky, tricky], `cut at ${cut}`);
    }
    assert.deepEqual(splitter.push(bytes(text)), [tricky]);
  });

  it('decodes a multibyte character split between chunks', () => {
    const message = { name: 'vm-日本-ü-😀' };
    const data = bytes(JSON.stringify(message));
    for (let cut = 1; cut < data.length; cut++) {
      assert.deepEqual(feed(new JsonStreamSplitter(), data, [cut]), [message]);
    }
  });

  it('refuses a stream that does not start a JSON object or array', () => {
    assert.throws(() => new JsonStreamSplitter().push(bytes('"text"')), (error: unknown) =>
      error instanceof FramingError && /expected '\{' or '\[' to start a message, got byte 0x22/.test(error.message));
    assert.throws(() => new JsonStreamSplitter().push(bytes('{"a":1}x')), FramingError);
  });

  it('refuses malformed JSON inside a balanced message', () => {
    assert.throws(() => new JsonStreamSplitter().push(bytes('{"a":}')), /malformed JSON message/);
  });

  it('bounds the bytes it buffers for one message', () => {
    const splitter = new JsonStreamSplitter(64);
    assert.throws(() => splitter.push(bytes(`{"a":"${'x'.repeat(100)}`)), /a message exceeds 64 bytes/);
  });

  it('frames any sequence of JSON values cut anywhere (property)', () => {
    const value = fc.oneof(
      fc.dictionary(fc.string({ unit: 'grapheme' }), fc.jsonValue({ maxDepth: 3 })),
      fc.array(fc.jsonValue({ maxDepth: 3 })),
    );
    fc.assert(fc.property(fc.array(value, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (messages, cuts) => {
      const data = bytes(messages.map((message) => JSON.stringify(message)).join('\n'));
      assert.deepEqual(feed(new JsonStreamSplitter(), data, cuts), JSON.parse(JSON.stringify(messages)));
    }));
  });
});
