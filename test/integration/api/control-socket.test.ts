// The control socket end to end over real unix sockets in a temporary
// directory: framing, JSON-RPC errors, typed errors across the wire, the
// socket file's life (modes, stale files, a second daemon) and every bound
// the client promises. Needs no root.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlConnection, callControl } from '../../../src/api/control-client.js';
import type { ConnectOptions } from '../../../src/api/control-client.js';
import { ControlServer } from '../../../src/api/control-server.js';
import type { ControlHandlers, ControlServerOptions } from '../../../src/api/control-server.js';
import {
  ControlCallError, ControlConnectionError, ControlSocketInUseError, ControlSocketPathError, ControlTimeoutError,
  DaemonUnavailableError, RPC_ERROR, errnoCode,
} from '../../../src/api/errors.js';
import { InvalidInputError } from '../../../src/model/errors.js';

// Absent params reach a handler as undefined, which JSON has no word for.
const echo: ControlHandlers = { echo: (params) => Promise.resolve({ got: params ?? null }) };

interface RawConnection {
  send(text: string): void;
  /** The next reply line, parsed. */
  next(): Promise<Record<string, unknown>>;
  readonly closed: Promise<void>;
}

/** Settles after `ms`; for tests that must see a promise still pending. */
const pendingAfter = async (promise: Promise<unknown>, ms: number): Promise<boolean> =>
  Promise.race([promise.then(() => false, () => false), sleep(ms).then(() => true)]);

describe('integration: api control socket', function () {
  this.timeout(20_000);
  let root: string;
  let serial = 0;
  let reported: unknown[] = [];
  const cleanups: (() => Promise<unknown> | undefined)[] = [];

  before(() => { root = mkdtempSync(join(tmpdir(), 'vifd-test-control-')); });
  after(() => { rmSync(root, { recursive: true, force: true }); });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    reported = [];
  });

  /** A socket path in a directory that does not exist yet. */
  const freshPath = (): string => join(root, `case-${++serial}`, 'vifd.sock');

  async function serve(path: string, handlers: ControlHandlers = echo, options: ControlServerOptions = {}): Promise<ControlServer> {
    const server = await ControlServer.listen(path, handlers, { onError: (error) => reported.push(error), ...options });
    cleanups.push(() => server.close());
    return server;
  }

  async function connect(path: string, options: ConnectOptions = {}): Promise<ControlConnection> {
    const connection = await ControlConnection.connect(path, options);
    cleanups.push(() => connection.close());
    return connection;
  }

  async function raw(path: string): Promise<RawConnection> {
    const socket = net.createConnection(path);
    await once(socket, 'connect');
    cleanups.push(() => { socket.destroy(); return undefined; });
    const lines: string[] = [];
    const waiting: ((line: string) => void)[] = [];
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        const waiter = waiting.shift();
        if (waiter === undefined) lines.push(line);
        else waiter(line);
      }
    });
    socket.on('error', (error) => reported.push(error));
    const closed = new Promise<void>((resolve) => socket.once('close', () => { resolve(); }));
    return {
      send: (text) => { socket.write(text); },
      next: async () => {
        const line = lines.shift() ?? await new Promise<string>((resolve) => waiting.push(resolve));
        return JSON.parse(line) as Record<string, unknown>;
      },
      closed,
    };
  }

  /** The errno of one connection attempt, or 'connected'. */
  async function connectOutcome(path: string): Promise<string> {
    const socket = net.createConnection(path);
    try {
      await once(socket, 'connect');
      return 'connected';
    } catch (error) {
      return errnoCode(error) ?? String(error);
    } finally {
      socket.destroy();
    }
  }

  /** A socket file nothing listens on, as a daemon killed with SIGKILL leaves it. */
  async function staleSocket(path: string): Promise<void> {
    mkdirSync(dirname(path), { recursive: true });
    const original = `${path}.orig`;
    const server = net.createServer().listen(original);
    await once(server, 'listening');
    linkSync(original, path); // closing unlinks the name it listened on, not this second one
    await new Promise((resolve) => server.close(resolve));
    assert.ok(lstatSync(path).isSocket());
    assert.equal(await connectOutcome(path), 'ECONNREFUSED');
  }

  it('answers a call, and several calls on one connection', async () => {
    const path = freshPath();
    await serve(path);
    assert.deepEqual(await callControl(path, 'echo', { a: 1, list: [1, 'x', null] }), { got: { a: 1, list: [1, 'x', null] } });
    const connection = await connect(path);
    assert.deepEqual(await connection.call('echo', [1, 2]), { got: [1, 2] });
    assert.deepEqual(await connection.call('echo'), { got: null });
  });

  it('creates the socket 0600 and missing parent directories 0700, even under umask 0', async () => {
    const path = join(root, `case-${++serial}`, 'run', 'vifd', 'vifd.sock');
    const previous = process.umask(0);
    try {
      await serve(path);
    } finally {
      process.umask(previous);
    }
    assert.ok(lstatSync(path).isSocket());
    assert.equal(lstatSync(path).mode & 0o777, 0o600);
    for (const dir of [dirname(path), dirname(dirname(path)), dirname(dirname(dirname(path)))]) {
      assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
    }
    assert.deepEqual(readdirSync(dirname(path)), ['vifd.sock'], 'no private directory left behind');
  });

  it('leaves the mode of an existing directory alone', async () => {
    const dir = join(root, `case-${++serial}`);
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    await serve(join(dir, 'vifd.sock'));
    assert.equal(statSync(dir).mode & 0o777, 0o755);
  });

  it('answers an unknown method, even one named after Object.prototype, with -32601', async () => {
    const path = freshPath();
    await serve(path);
    for (const method of ['vif.nothing', 'constructor', '__proto__', 'toString']) {
      await assert.rejects(callControl(path, method), (error: unknown) => {
        assert.ok(error instanceof ControlCallError);
        assert.equal(error.rpcCode, RPC_ERROR.methodNotFound);
        assert.equal(error.message, `no such method: ${JSON.stringify(method)}`);
        return true;
      });
    }
  });

  it('answers a garbage line with -32700 and keeps reading the connection', async () => {
    const path = freshPath();
    await serve(path);
    const connection = await raw(path);
    connection.send('this is {"not": json\n');
    const parseError = await connection.next();
    assert.equal(parseError.id, null);
    assert.equal((parseError.error as { code: number }).code, RPC_ERROR.parseError);
    connection.send('\n\r\n'); // blank lines are skipped, not answered
    connection.send('{"jsonrpc":"2.0","id":7,"method":"echo","params":{"ok":true}}\n');
    assert.deepEqual(await connection.next(), { jsonrpc: '2.0', id: 7, result: { got: { ok: true } } });
  });

  it('answers requests that are not valid JSON-RPC with -32600', async () => {
    const path = freshPath();
    await serve(path);
    const connection = await raw(path);
    const cases: [string, unknown][] = [
      ['42', null], ['[{"jsonrpc":"2.0","id":1,"method":"echo"}]', null], ['{"jsonrpc":"2.0","id":{},"method":"echo"}', null],
      ['{"jsonrpc":"1.0","id":3,"method":"echo"}', 3], ['{"jsonrpc":"2.0","id":"a","method":5}', 'a'],
      ['{"jsonrpc":"2.0","id":4,"method":"echo","params":"text"}', 4],
    ];
    for (const [line, id] of cases) {
      connection.send(`${line}\n`);
      const reply = await connection.next();
      assert.equal(reply.id, id, line);
      assert.equal((reply.error as { code: number }).code, RPC_ERROR.invalidRequest, line);
    }
  });

  it('passes a VifdError through with its code and context', async () => {
    const path = freshPath();
    const thrown = new InvalidInputError('unknown network "dmz"', { domain: 'web1', vifIndex: 2, field: 'network' });
    await serve(path, { plug: () => Promise.reject(thrown), crash: () => { throw new Error('disk on fire'); } });
    await assert.rejects(callControl(path, 'plug', { domain: 'web1' }), (error: unknown) => {
      assert.ok(error instanceof ControlCallError);
      assert.equal(error.rpcCode, RPC_ERROR.vifdError);
      assert.equal(error.message, 'VM "web1" VIF 2: network: unknown network "dmz"');
      assert.deepEqual(error.data, { code: 'invalid-input', context: { domain: 'web1', vifIndex: 2, field: 'network' } });
      assert.equal(error.remoteCode, 'invalid-input');
      assert.equal(error.code, 'control-call');
      return true;
    });
    await assert.rejects(callControl(path, 'crash'), (error: unknown) =>
      error instanceof ControlCallError && error.rpcCode === RPC_ERROR.internalError && error.message === 'disk on fire');
  });

  it('runs concurrent calls on one connection and answers each by its id, out of order', async () => {
    const path = freshPath();
    const release: (() => void)[] = [];
    let arrived: () => void = () => undefined;
    const allArrived = new Promise<void>((resolve) => { arrived = resolve; });
    await serve(path, {
      wait: async (params) => {
        const { n } = params as { n: number };
        await new Promise<void>((resolve) => { release[n] = resolve; if (release.filter(Boolean).length === 3) arrived(); });
        return { n };
      },
    });
    const connection = await connect(path);
    const finished: number[] = [];
    const calls = [0, 1, 2].map(async (n) => {
      const result = await connection.call('wait', { n });
      finished.push(n);
      return result;
    });
    await allArrived;
    for (const n of [2, 1, 0]) release[n]!();
    assert.deepEqual(await Promise.all(calls), [{ n: 0 }, { n: 1 }, { n: 2 }]);
    assert.deepEqual(finished, [2, 1, 0]);
  });

  it('runs a notification without answering it, and reports its failure', async () => {
    const path = freshPath();
    const seen: unknown[] = [];
    await serve(path, {
      ...echo,
      note: (params) => { seen.push(params); return Promise.resolve('ignored'); },
      broken: () => Promise.reject(new Error('notification failed')),
    });
    const connection = await raw(path);
    connection.send('{"jsonrpc":"2.0","method":"note","params":["a"]}\n{"jsonrpc":"2.0","method":"broken"}\n');
    connection.send('{"jsonrpc":"2.0","method":"no.such.method"}\n{"jsonrpc":"2.0","id":2,"method":"echo"}\n');
    assert.deepEqual(await connection.next(), { jsonrpc: '2.0', id: 2, result: { got: null } });
    assert.deepEqual(seen, [['a']]);
    assert.ok(reported.some((error) => error instanceof Error && error.message === 'notification failed'));
    const client = await connect(path);
    client.notify('note', { b: 1 });
    await client.call('echo');
    assert.deepEqual(seen, [['a'], { b: 1 }]);
  });

  it('replaces a stale socket file', async () => {
    const path = freshPath();
    await staleSocket(path);
    await serve(path);
    assert.deepEqual(await callControl(path, 'echo', ['after']), { got: ['after'] });
  });

  it('refuses to start while another vifd listens, and the first keeps working', async () => {
    const path = freshPath();
    await serve(path);
    const before = lstatSync(path).ino;
    await assert.rejects(ControlServer.listen(path, echo), (error: unknown) => {
      assert.ok(error instanceof ControlSocketInUseError);
      assert.equal(error.message, `another vifd is already listening on ${path}`);
      assert.equal(error.code, 'control-socket-in-use');
      return true;
    });
    assert.equal(lstatSync(path).ino, before);
    assert.deepEqual(readdirSync(dirname(path)), ['vifd.sock']);
    assert.deepEqual(await callControl(path, 'echo', [1]), { got: [1] });
  });

  it('does not delete a file at the path that is not a socket', async () => {
    const path = freshPath();
    mkdirSync(dirname(path));
    writeFileSync(path, 'precious');
    await assert.rejects(ControlServer.listen(path, echo), (error: unknown) =>
      error instanceof ControlSocketPathError && error.message === `${path} exists and is not a socket; it was left alone`);
    assert.equal(readFileSync(path, 'utf8'), 'precious');
    assert.deepEqual(readdirSync(dirname(path)), ['vifd.sock']);
  });

  it('gives up connecting after connectTimeoutMs with DaemonUnavailableError', async () => {
    const missing = freshPath();
    const started = performance.now();
    await assert.rejects(callControl(missing, 'echo', undefined, { connectTimeoutMs: 300 }), (error: unknown) => {
      assert.ok(error instanceof DaemonUnavailableError);
      assert.equal(error.code, 'daemon-unavailable');
      assert.match(error.message, /^vifd is not running or not listening at .*vifd\.sock \(ENOENT, retried for 300 ms\)$/);
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 1_500, `gave up after ${elapsed} ms`);
    const stale = freshPath();
    await staleSocket(stale);
    await assert.rejects(callControl(stale, 'echo', undefined, { connectTimeoutMs: 150 }),
      (error: unknown) => error instanceof DaemonUnavailableError && error.message.includes('ECONNREFUSED'));
  });

  it('keeps retrying until a daemon that starts late answers', async () => {
    const path = freshPath();
    const call = callControl(path, 'echo', ['late'], { connectTimeoutMs: 5_000 });
    assert.ok(await pendingAfter(call, 300), 'still waiting for the daemon');
    await serve(path);
    assert.deepEqual(await call, { got: ['late'] });
  });

  it('times a call out when the handler never answers, and the connection stays usable', async () => {
    const path = freshPath();
    await serve(path, { ...echo, hang: () => new Promise(() => undefined) });
    const connection = await connect(path);
    const started = performance.now();
    await assert.rejects(connection.call('hang', {}, { timeoutMs: 200 }), (error: unknown) => {
      assert.ok(error instanceof ControlTimeoutError);
      assert.equal(error.message, `vifd at ${path} did not answer "hang" within 200 ms`);
      return true;
    });
    assert.ok(performance.now() - started < 1_500);
    assert.deepEqual(await connection.call('echo', ['still here']), { got: ['still here'] });
    await assert.rejects(callControl(path, 'hang', undefined, { timeoutMs: 100 }), ControlTimeoutError);
  });

  it('carries hostile method names and params through unchanged', async () => {
    const path = freshPath();
    const method = 'vif.plug\n"; $(touch /tmp/pwned) `id` \\ \u2028 ünï';
    const params = {
      xml: '<domain name="a\nb">$(reboot)</domain>\r\n', quotes: `'"\``, nul: '\u0000', separators: '\u2028\u2029',
      braces: '}{"]}', duck: '🦆', [method]: method,
    };
    await serve(path, { [method]: (received) => Promise.resolve({ method, received }) });
    assert.deepEqual(await callControl(path, method, params), { method, received: params });
    await assert.rejects(callControl(path, `${method}\n`), (error: unknown) =>
      error instanceof ControlCallError && error.rpcCode === RPC_ERROR.methodNotFound && !error.message.includes('\n'));
  });

  it('accepts a line of exactly maxLineBytes, and answers a longer one with an error and a close', async () => {
    const path = freshPath();
    await serve(path, echo, { maxLineBytes: 1024 });
    const request = (pad: number): string => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: { pad: 'x'.repeat(pad) } });
    const fits = request(1024 - request(0).length);
    assert.equal(Buffer.byteLength(fits), 1024);
    const first = await raw(path);
    first.send(`${fits}\n`);
    assert.equal((await first.next()).id, 1);
    const second = await raw(path);
    second.send(`${request(1025 - request(0).length)}\n`);
    const refusal = await second.next();
    assert.equal(refusal.id, null);
    assert.deepEqual(refusal.error, {
      code: RPC_ERROR.invalidRequest, message: 'request line longer than 1024 bytes; closing the connection', data: { maxLineBytes: 1024 },
    });
    await second.closed;
    assert.deepEqual(await callControl(path, 'echo', [1]), { got: [1] }, 'the server still takes new connections');
  });

  it('fails a client call whose request is too long with the daemon\'s reason', async () => {
    const path = freshPath();
    await serve(path, echo, { maxLineBytes: 1024 });
    const connection = await connect(path);
    await assert.rejects(connection.call('echo', { xml: 'x'.repeat(2_000) }), (error: unknown) =>
      error instanceof ControlCallError && error.rpcCode === RPC_ERROR.invalidRequest && error.message.includes('1024 bytes'));
    await connection.closed;
    await assert.rejects(connection.call('echo'), ControlConnectionError);
  });

  it('close() drops connections, fails calls in flight, removes only its own socket file, and can be repeated', async () => {
    const path = freshPath();
    const server = await serve(path, { hang: () => new Promise(() => undefined) });
    const connection = await connect(path);
    const inFlight = connection.call('hang');
    await sleep(50);
    await server.close();
    await assert.rejects(inFlight, (error: unknown) =>
      error instanceof ControlConnectionError && /^vifd at .* closed the connection( \(E[A-Z]+\))? before answering "hang"$/.test(error.message));
    assert.equal(existsSync(path), false);
    await server.close();

    const first = await serve(path);
    unlinkSync(path); // as an administrator might, before starting another daemon
    await serve(path);
    await first.close();
    assert.ok(lstatSync(path).isSocket(), 'the successor\'s socket stays');
    assert.deepEqual(await callControl(path, 'echo'), { got: null });
  });
});
