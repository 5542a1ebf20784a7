// The hook sockets over real unix sockets in a temporary directory: the
// request's framing (the XML until the client half-closes, the op fixed by
// the socket), the one verdict line, every bound (XML size, deadline), half
// frames, a throwing handler and concurrent clients. Needs no root.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOOK_MAX_XML_BYTES, HookSocketServer, hookSocketPath, verdictOf } from '../../../src/api/hook-socket.js';
import type { HookHandler, HookOp, HookSocketOptions, HookVerdict } from '../../../src/api/hook-socket.js';
import { ControlSocketInUseError } from '../../../src/api/errors.js';
import { LimitExceededError } from '../../../src/model/errors.js';

const XML = "<domain><name>web1 ✓ $(reboot) `id` \"';|&</name><uuid>3f2504e0-4f89-11d3-9a0c-0305e82c3301</uuid></domain>";

interface Exchange {
  /** Everything the server wrote before it closed. */
  readonly reply: string;
  /** Whether a write of ours failed because the server had closed (it stopped reading). */
  readonly cutOff: boolean;
}

/** Connects, writes `chunks` one by one (yielding between them), half-closes unless `keepOpen`, and collects the reply until the server has closed. */
async function exchange(path: string, chunks: readonly (string | Buffer)[], options: { keepOpen?: boolean } = {}): Promise<Exchange> {
  const socket = net.createConnection({ path, allowHalfOpen: true });
  await once(socket, 'connect');
  let reply = '';
  let cutOff = false;
  socket.setEncoding('utf8').on('data', (chunk: string) => { reply += chunk; });
  socket.on('error', (error: NodeJS.ErrnoException) => { if (error.code === 'EPIPE' || error.code === 'ECONNRESET') cutOff = true; else throw error; });
  // The server's end of stream ends the exchange; ours is then closed too (keepOpen only delays it until then).
  socket.on('end', () => { socket.end(); });
  const closed = new Promise((settle) => socket.once('close', settle));
  for (const chunk of chunks) {
    if (socket.destroyed) break;
    socket.write(chunk);
    await sleep(1);
  }
  if (options.keepOpen !== true && !socket.destroyed) socket.end();
  await closed;
  return { reply, cutOff };
}

describe('integration: api hook socket', function () {
  this.timeout(20_000);
  let root: string;
  let serial = 0;
  let reported: unknown[] = [];
  const servers: HookSocketServer[] = [];
  const calls: { op: HookOp; xml: string }[] = [];
  const recording = (verdict: (op: HookOp, xml: string) => Promise<HookVerdict>): HookHandler => (op, xml) => {
    calls.push({ op, xml });
    return verdict(op, xml);
  };
  const agree = recording(() => Promise.resolve({ ok: true }));

  before(() => { root = mkdtempSync(join(tmpdir(), 'vifd-test-hook-socket-')); });
  after(() => { rmSync(root, { recursive: true, force: true }); });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    calls.length = 0;
    reported = [];
  });

  async function serve(handler: HookHandler = agree, options: HookSocketOptions = {}, op: HookOp = 'prepare'): Promise<HookSocketServer> {
    const server = await HookSocketServer.listen(hookSocketPath(join(root, `case-${++serial}`), op), op, handler, { onError: (error) => reported.push(error), ...options });
    servers.push(server);
    return server;
  }

  it('takes the XML however it is split, hands it to the handler with the socket\'s op, answers ok and closes', async () => {
    const prepare = await serve();
    const bytes = Buffer.from(XML);
    // Byte by byte: the UTF-8 of ✓ falls across chunks.
    const pieces = Array.from({ length: bytes.length }, (_, index) => bytes.subarray(index, index + 1));
    assert.deepEqual(await exchange(prepare.path, pieces), { reply: 'ok\n', cutOff: false });
    const release = await serve(agree, {}, 'release');
    const migrate = await serve(agree, {}, 'migrate');
    assert.match(release.path, /\/hook-release\.sock$/);
    assert.deepEqual(await exchange(release.path, [XML]), { reply: 'ok\n', cutOff: false });
    assert.deepEqual(await exchange(migrate.path, [XML.slice(0, 10), XML.slice(10)]), { reply: 'ok\n', cutOff: false });
    assert.deepEqual(calls, [{ op: 'prepare', xml: XML }, { op: 'release', xml: XML }, { op: 'migrate', xml: XML }]);
  });

  it('answers a refusal on one line, whatever the reason contains', async () => {
    const refuse = recording(() => verdictOf(() => Promise.reject(new LimitExceededError('asks for 8 VIFs;\nthe limit\r\nis 7\x1b[31m', { domain: 'web1', vifIndex: 7 }))));
    const { path } = await serve(refuse);
    const { reply } = await exchange(path, [XML]);
    assert.equal(reply, 'refused VM "web1" VIF 7: asks for 8 VIFs; the limit is 7 [31m\n');
  });

  it('accepts an XML of exactly the limit and refuses one byte more without reading the rest', async () => {
    const { path } = await serve(agree, { maxXmlBytes: 4096 });
    assert.equal((await exchange(path, ['x'.repeat(4000), 'x'.repeat(96)])).reply, 'ok\n');
    assert.equal(calls[0]?.xml.length, 4096);
    const over = await exchange(path, ['x'.repeat(4097)]);
    assert.equal(over.reply, "refused the domain XML is larger than 4096 bytes (the hook socket's limit); nothing was done\n");
    assert.equal(calls.length, 1);
  });

  it('refuses a 2 MiB XML at the default 1 MiB limit while the client is still sending', async () => {
    const { path } = await serve();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const result = await exchange(path, [...Array.from({ length: 32 }, () => chunk)]);
    assert.equal(result.reply, `refused the domain XML is larger than ${HOOK_MAX_XML_BYTES} bytes (the hook socket's limit); nothing was done\n`);
    assert.equal(HOOK_MAX_XML_BYTES, 1024 * 1024);
    assert.deepEqual(calls, []);
  });

  it('takes a connection that sends nothing as a probe and answers nothing', async () => {
    const { path } = await serve();
    assert.deepEqual(await exchange(path, []), { reply: '', cutOff: false });
    assert.deepEqual(calls, []);
  });

  it('refuses at the deadline when the client never finishes or the handler never decides', async () => {
    const never = recording(() => new Promise<HookVerdict>(() => undefined));
    const { path } = await serve(never, { deadlineMs: 300 });
    const stalled = await exchange(path, ['<dom'], { keepOpen: true });
    assert.equal(stalled.reply, "refused the hook's request did not end within 0.3 s\n");
    const started = Date.now();
    const undecided = await exchange(path, [XML]);
    assert.equal(undecided.reply, 'refused vifd gave no verdict within 0.3 s\n');
    assert.ok(Date.now() - started >= 250, 'answered before the deadline');
    assert.equal(calls.length, 1);
  });

  it('refuses, and reports, when the handler throws', async () => {
    const throwing: HookHandler = () => { throw new Error('engine exploded'); };
    const { path } = await serve(throwing);
    assert.equal((await exchange(path, [XML])).reply, 'refused engine exploded\n');
    assert.equal(reported.length, 1);
  });

  it('serves concurrent clients independently, each with its own verdict', async () => {
    const slowEcho = recording(async (_op, xml) => {
      await sleep(50 + (xml.length % 7) * 10);
      return xml.endsWith('3') ? { ok: false, reason: `no for ${xml}` } : { ok: true };
    });
    const { path } = await serve(slowEcho);
    const replies = await Promise.all(Array.from({ length: 24 }, (_, index) => exchange(path, [`<vm>${index}`])));
    replies.forEach(({ reply }, index) => {
      assert.equal(reply, String(index).endsWith('3') ? `refused no for <vm>${index}\n` : 'ok\n', `client ${index}`);
    });
    assert.equal(calls.length, 24);
  });

  it('appears mode 0600, will not take a live path, and close() removes it and drops connections', async () => {
    const server = await serve(recording(() => new Promise<HookVerdict>(() => undefined)));
    assert.equal(statSync(server.path).mode & 0o777, 0o600);
    await assert.rejects(HookSocketServer.listen(server.path, 'prepare', agree), ControlSocketInUseError);
    const pending = exchange(server.path, [XML]);
    await sleep(100);
    await server.close();
    assert.deepEqual(await pending, { reply: '', cutOff: false });
    assert.equal(existsSync(server.path), false);
    await server.close();
  });
});
