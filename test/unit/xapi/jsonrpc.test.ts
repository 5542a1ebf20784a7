import assert from 'node:assert/strict';
import { XapiError, XapiProtocolError, XapiTransportError } from '../../../src/xapi/errors.js';
import { decodeReply, encodeCall, xapiErrorFromWire } from '../../../src/xapi/jsonrpc.js';

const json = (body: unknown, contentType = 'application/json', status = 200): { status: number; contentType: string; body: string } =>
  ({ status, contentType, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('unit: xapi JSON-RPC framing', () => {
  it('encodes a JSON-RPC 2.0 call', () => {
    assert.deepEqual(JSON.parse(encodeCall(7, 'VM.get_record', ['OpaqueRef:s', 'OpaqueRef:v'])),
      { jsonrpc: '2.0', method: 'VM.get_record', params: ['OpaqueRef:s', 'OpaqueRef:v'], id: 7 });
  });

  it('returns the result, including falsy ones', () => {
    assert.deepEqual(decodeReply(json({ jsonrpc: '2.0', result: { a: 1 }, id: 3 }), 3, 'm'), { a: 1 });
    assert.equal(decodeReply(json({ jsonrpc: '2.0', result: '', id: 3 }), 3, 'm'), '');
    assert.equal(decodeReply(json({ result: 0, error: null, id: 3 }), 3, 'm'), 0);
  });

  it("maps XAPI's 2.0 error object to an XapiError with code and params", () => {
    const reply = json({ jsonrpc: '2.0', error: { code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:x'] }, id: 1 });
    assert.throws(() => decodeReply(reply, 1, 'VM.start'), (error: unknown) => {
      assert.ok(error instanceof XapiError);
      assert.equal(error.xapiCode, 'HANDLE_INVALID');
      assert.deepEqual(error.params, ['VM', 'OpaqueRef:x']);
      assert.equal(error.method, 'VM.start');
      assert.match(error.message, /VM\.start failed: HANDLE_INVALID/);
      return true;
    });
  });

  it('maps the v1 array form and non-string params', () => {
    const error = xapiErrorFromWire(['VM_BAD_POWER_STATE', 'OpaqueRef:v', 'halted', 3], 'VM.start');
    assert.equal(error?.xapiCode, 'VM_BAD_POWER_STATE');
    assert.deepEqual(error.params, ['OpaqueRef:v', 'halted', '3']);
    assert.deepEqual(xapiErrorFromWire({ code: 1, message: 'EVENTS_LOST' }, 'event.from')?.params, []);
    assert.equal(xapiErrorFromWire({ code: 1 }, 'x'), null);
    assert.equal(xapiErrorFromWire('oops', 'x'), null);
  });

  it('keeps code and params when context is added', () => {
    const error = new XapiError('OPERATION_BLOCKED', ['OpaqueRef:v', 'reason'], 'VM.start').withContext({ vmUuid: 'abc' });
    assert.ok(error instanceof XapiError);
    assert.equal(error.xapiCode, 'OPERATION_BLOCKED');
    assert.match(error.message, /^VM abc: /);
  });

  it('refuses replies that are not XAPI JSON-RPC', () => {
    assert.throws(() => decodeReply(json('<xml/>', 'text/xml'), 1, 'm'), XapiProtocolError);
    assert.throws(() => decodeReply(json('{', 'application/json'), 1, 'm'), XapiProtocolError);
    assert.throws(() => decodeReply(json([1]), 1, 'm'), XapiProtocolError);
    assert.throws(() => decodeReply(json({ jsonrpc: '2.0', result: 1, id: 2 }), 1, 'm'), /does not match request id 1/);
    assert.throws(() => decodeReply(json({ jsonrpc: '2.0', id: 1 }), 1, 'm'), /neither result nor error/);
    assert.throws(() => decodeReply(json({ jsonrpc: '2.0', error: { code: -32600 }, id: 1 }), 1, 'm'), XapiProtocolError);
  });

  it('accepts a charset on application/json (a client need not be as strict as xen-api)', () => {
    assert.equal(decodeReply(json({ result: 5, id: 1 }, 'application/json; charset=utf-8'), 1, 'm'), 5);
  });

  it('an HTTP error status is a transport error', () => {
    assert.throws(() => decodeReply(json('', 'text/plain', 503), 1, 'VM.start'), (error: unknown) =>
      error instanceof XapiTransportError && /HTTP status 503/.test(error.message));
  });
});
