// The libvirt hook program against a control socket it is pointed at
// (VIFD_SOCKET): the verdict reaches libvirt as the exit code and one line on
// stderr; with no daemon, a VM with vifd intent is refused within the bound
// and any other VM passes at once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../../src/api/control-server.js';
import { LimitExceededError } from '../../../src/model/errors.js';

const HOOK = new URL('../../../src/cli/hook.js', import.meta.url).pathname;
const WITH_INTENT = `<domain><name>web1</name><uuid>3f2504e0-4f89-11d3-9a0c-0305e82c3301</uuid><metadata>
  <vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1"><vifd:vif network="prod"/></vifd:vifd></metadata></domain>`;
const PLAIN = '<domain><name>plain</name><uuid>9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11</uuid></domain>';

function runHook(socket: string, op: string, xml: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HOOK, 'qemu', 'web1', op, 'begin', '-'], { env: { ...process.env, VIFD_SOCKET: socket, ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code, stderr, ms: Date.now() - started }); });
    child.stdin.end(xml);
  });
}

describe('integration: the libvirt hook program', function () {
  this.timeout(30_000);
  let dir: string;
  let server: ControlServer | null = null;
  const calls: { method: string; xml: unknown }[] = [];

  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'vifd-hook-')); calls.length = 0; });
  afterEach(async () => {
    await server?.close();
    server = null;
    rmSync(dir, { recursive: true, force: true });
  });

  const listen = async (prepare: () => Promise<unknown>): Promise<string> => {
    const socket = join(dir, 'vifd.sock');
    server = await ControlServer.listen(socket, {
      prepare: (params) => { calls.push({ method: 'prepare', xml: (params as { xml: unknown }).xml }); return prepare(); },
      release: (params) => { calls.push({ method: 'release', xml: (params as { xml: unknown }).xml }); return Promise.resolve({ removed: 1 }); },
    });
    return socket;
  };

  it('passes the XML to the daemon on prepare and release, and exits 0 when it agrees', async () => {
    const socket = await listen(() => Promise.resolve({ vifs: [] }));
    assert.equal((await runHook(socket, 'prepare', WITH_INTENT)).code, 0);
    assert.equal((await runHook(socket, 'release', WITH_INTENT)).code, 0);
    assert.deepEqual(calls, [{ method: 'prepare', xml: WITH_INTENT }, { method: 'release', xml: WITH_INTENT }]);
  });

  it('refuses a definition over 1 MiB without sending it, reading (and dropping) all of it', async () => {
    const socket = await listen(() => Promise.resolve({ vifs: [] }));
    const huge = WITH_INTENT.replace('</domain>', `<description>${'x'.repeat(3 * 1024 * 1024)}</description></domain>`);
    const refused = await runHook(socket, 'prepare', huge);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^vifd: refused: VM "web1": the domain definition is \d+ bytes; vifd reads at most 1048576 \(1 MiB\)\n$/);
    const released = await runHook(socket, 'release', huge);
    assert.equal(released.code, 0, 'a release is never refused');
    assert.deepEqual(calls, [], 'nothing over the bound reaches the daemon');
  });

  it('asks once more when the daemon goes away mid-call (a crash and restart), and succeeds', async () => {
    const socket = join(dir, 'raw.sock');
    let connections = 0;
    const raw = createServer((connection) => {
      connections++;
      let buffered = '';
      connection.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const end = buffered.indexOf('\n');
        if (end < 0) return;
        // First connection: the daemon dies with the request in hand. Second: it answers.
        if (connections === 1) { connection.destroy(); return; }
        const { id } = JSON.parse(buffered.slice(0, end)) as { id: number };
        connection.end(`${JSON.stringify({ jsonrpc: '2.0', id, result: { vifs: [] } })}\n`);
      });
    });
    await new Promise<void>((resolve) => raw.listen(socket, resolve));
    try {
      const result = await runHook(socket, 'prepare', WITH_INTENT);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(connections, 2);
    } finally {
      await new Promise((resolve) => raw.close(resolve));
    }
  });

  it('turns a refusal into exit 1 and one line on stderr', async () => {
    const socket = await listen(() => Promise.reject(new LimitExceededError('asks for 8 VIFs; the limit is 7 (host default)', { domain: 'web1' })));
    const result = await runHook(socket, 'prepare', WITH_INTENT);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'vifd: refused: VM "web1": asks for 8 VIFs; the limit is 7 (host default)\n');
  });

  it('ignores operations vifd does not act on, without asking the daemon', async () => {
    const socket = await listen(() => Promise.resolve({}));
    for (const op of ['start', 'started', 'stopped', 'reconnect', 'attach']) assert.equal((await runHook(socket, op, WITH_INTENT)).code, 0);
    assert.deepEqual(calls, []);
  });

  it('fails closed for a VM with vifd intent when no daemon answers within the bound', async () => {
    const result = await runHook(join(dir, 'absent.sock'), 'prepare', WITH_INTENT, { VIFD_HOOK_CONNECT_TIMEOUT_MS: '600' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^vifd: refusing to start VM "web1": its VIFs are managed by vifd, which is not running \(vifd is not running or not listening at .*absent\.sock \(ENOENT, retried for 600 ms\)\); start vifd first\n$/);
    assert.ok(result.ms >= 600, `gave up after ${result.ms} ms, before its bound`);
  });

  it('lets a VM without vifd intent start at once when no daemon runs, and never blocks a release', async () => {
    const plain = await runHook(join(dir, 'absent.sock'), 'prepare', PLAIN, { VIFD_HOOK_CONNECT_TIMEOUT_MS: '5000' });
    assert.equal(plain.code, 0);
    assert.ok(plain.ms < 3000, `a VM vifd does not manage waited ${plain.ms} ms`);
    const release = await runHook(join(dir, 'absent.sock'), 'release', WITH_INTENT);
    assert.equal(release.code, 0);
    assert.match(release.stderr, /vifd removes its VIFs when it starts/);
  });
});
