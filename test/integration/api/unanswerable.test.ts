// What the control and hook sockets do when an answer cannot be written at all
// (not a failing handler: its failure is an answer). Such a failure used to be
// an unhandled rejection, which the daemon exits on; it is now reported to
// onError with the method, and the socket keeps serving. Real unix sockets in
// a temporary directory; needs no root.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlConnection } from '../../../src/api/control-client.js';
import { ControlTimeoutError } from '../../../src/api/errors.js';
import { ControlServer } from '../../../src/api/control-server.js';
import { HookSocketServer } from '../../../src/api/hook-socket.js';
import type { HookVerdict } from '../../../src/api/hook-socket.js';

/** An error whose message cannot even be read: no reply can be built from it. */
class Unreadable extends Error {
  override get message(): string {
    throw new Error('the message cannot be read');
  }
}

async function hookExchange(path: string, request: string): Promise<string> {
  const socket = net.createConnection({ path, allowHalfOpen: true });
  await once(socket, 'connect');
  let reply = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => { reply += chunk; });
  socket.on('error', () => undefined); // a reset is one way the server may cut it: the reply (none) is what is checked
  const closed = once(socket, 'close');
  socket.end(request);
  await closed;
  return reply;
}

describe('integration: control and hook sockets when no answer can be written', function () {
  this.timeout(10_000);
  let dir: string;
  const reported: { error: unknown; method?: string | undefined }[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-unanswerable-'));
    reported.length = 0;
  });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('control socket: reports the failure with its method and keeps answering', async () => {
    const server = await ControlServer.listen(join(dir, 'c.sock'), {
      broken: () => Promise.reject(new Unreadable()),
      ping: () => Promise.resolve({ ok: true }),
    }, { onError: (error, method) => { reported.push({ error, method }); } });
    const connection = await ControlConnection.connect(server.path, { timeoutMs: 500 });
    try {
      await assert.rejects(connection.call('broken', {}), ControlTimeoutError);
      assert.equal(reported.length, 1);
      const [first] = reported;
      assert.ok(first !== undefined);
      assert.equal(first.method, 'broken');
      // What failed is building the reply: the error from reading the handler's error.
      assert.ok(first.error instanceof Error);
      assert.equal(first.error.message, 'the message cannot be read');
      assert.deepEqual(await connection.call('ping', {}), { ok: true });
    } finally {
      await connection.close();
      await server.close();
    }
  });

  it('hook socket: reports the failure naming the op and cuts the connection at once (not at the deadline)', async () => {
    const notAVerdict = { ok: false } as unknown as HookVerdict; // no reason: the verdict line cannot be made
    const server = await HookSocketServer.listen(join(dir, 'h.sock'), 'prepare', (_op, xml) => Promise.resolve(xml === '<domain/>' ? notAVerdict : { ok: true }),
      { deadlineMs: 60_000, onError: (error) => { reported.push({ error }); } });
    try {
      const started = Date.now();
      assert.equal(await hookExchange(join(dir, 'h.sock'), '<domain/>'), '');
      assert.ok(Date.now() - started < 5_000, 'the hook waited for the deadline');
      assert.equal(reported.length, 1);
      assert.match((reported[0]?.error as Error).message, /^answering prepare: /);
      assert.equal(await hookExchange(join(dir, 'h.sock'), '<domain id="2"/>'), 'ok\n');
    } finally {
      await server.close();
    }
  });
});
