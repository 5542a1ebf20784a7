// The libvirt hook shim (hooks/qemu.d/vifd, the real sh script) against the
// hook sockets served by this test: prepare, release and migrate reach the
// daemon through nc with no node in the path, a refusal reaches libvirt as exit 1
// and one line on stderr, every bound holds, and without a hook socket (or
// without nc, or with a dead daemon's socket file) the node hook program
// decides exactly as before.
import assert from 'node:assert/strict';
import { linkSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../../src/api/control-server.js';
import { HOOK_OPS, HookSocketServer, hookSocketPath } from '../../../src/api/hook-socket.js';
import type { HookHandler, HookOp, HookSocketOptions, HookVerdict } from '../../../src/api/hook-socket.js';
import { renderHookShim, runHookShim } from '../../harness/hook-shim.js';
import type { HookShimRun } from '../../harness/hook-shim.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const WITH_INTENT = `<domain><name>web1 $(touch /tmp/vifd-pwned) ;'"\`</name><uuid>3f2504e0-4f89-11d3-9a0c-0305e82c3301</uuid><metadata>
  <vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1"><vifd:vif network="blue"/></vifd:vifd></metadata></domain>`;
/** A VM name as hostile as libvirt allows: it must never be interpreted. */
const HOSTILE_NAME = 'web1 $(touch /tmp/vifd-pwned) `id`; rm -rf /';

describe('integration: the libvirt hook shim (hooks/qemu.d/vifd)', function () {
  this.timeout(30_000);
  let dir: string;
  let shim: string;
  let hookSocket: string;
  let controlSocket: string;
  const closers: (() => Promise<void>)[] = [];
  const hookCalls: { op: HookOp; xml: string }[] = [];
  const controlCalls: string[] = [];

  before(async function () {
    await requirePrerequisites(this, ['netcat']);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-hook-shim-'));
    shim = renderHookShim(dir);
    hookSocket = hookSocketPath(dir, 'prepare');
    controlSocket = join(dir, 'vifd.sock');
    hookCalls.length = 0;
    controlCalls.length = 0;
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(existsSync('/tmp/vifd-pwned'), false, 'VM data was run as a command');
  });

  async function serveHook(verdict: (op: HookOp, xml: string) => Promise<HookVerdict>, options: HookSocketOptions = {}): Promise<void> {
    const handler: HookHandler = (op, xml) => { hookCalls.push({ op, xml }); return verdict(op, xml); };
    for (const op of HOOK_OPS) {
      const server = await HookSocketServer.listen(hookSocketPath(dir, op), op, handler, options);
      closers.push(() => server.close());
    }
  }

  /** The control socket the node hook program falls back to. */
  async function serveControl(): Promise<void> {
    const server = await ControlServer.listen(controlSocket, {
      prepare: () => { controlCalls.push('prepare'); return Promise.resolve({ vifs: [] }); },
      release: () => { controlCalls.push('release'); return Promise.resolve({ removed: 0 }); },
    });
    closers.push(() => server.close());
  }

  const hook = (op: string, input: string | Buffer, env: Record<string, string> = {}): Promise<HookShimRun> =>
    runHookShim(shim, { domain: HOSTILE_NAME, op, subop: op === 'release' ? 'end' : 'begin' }, input,
      { VIFD_HOOK_SOCKET_DIR: dir, VIFD_SOCKET: controlSocket, ...env });

  it('passes prepare, release and migrate to their hook sockets byte for byte and exits 0 on ok, printing nothing', async () => {
    await serveHook(() => Promise.resolve({ ok: true }));
    await serveControl();
    for (const op of ['prepare', 'release', 'migrate']) {
      const run = await hook(op, WITH_INTENT);
      assert.deepEqual({ code: run.code, stdout: run.stdout, stderr: run.stderr }, { code: 0, stdout: '', stderr: '' }, op);
    }
    assert.deepEqual(hookCalls, [{ op: 'prepare', xml: WITH_INTENT }, { op: 'release', xml: WITH_INTENT }, { op: 'migrate', xml: WITH_INTENT }]);
    assert.deepEqual(controlCalls, [], 'the node program was not involved');
  });

  it('refuses a prepare with exit 1 and the reason naming the VM and the VIF; a refused release exits 0 with a note', async () => {
    const reason = 'VM "web1" VIF 0: network: network "blue" is not defined on this host (known: red)';
    await serveHook(() => Promise.resolve({ ok: false, reason }));
    const prepare = await hook('prepare', WITH_INTENT);
    assert.deepEqual({ code: prepare.code, stderr: prepare.stderr, stdout: prepare.stdout }, { code: 1, stderr: `vifd: refused: ${reason}\n`, stdout: '' });
    const release = await hook('release', WITH_INTENT);
    assert.deepEqual({ code: release.code, stderr: release.stderr }, { code: 0, stderr: `vifd: release failed: ${reason}\n` });
    const migrate = await hook('migrate', WITH_INTENT);
    assert.deepEqual({ code: migrate.code, stderr: migrate.stderr, stdout: migrate.stdout }, { code: 1, stderr: `vifd: refused: ${reason}\n`, stdout: '' });
  });

  it('prints a reason that looks like shell or printf syntax as it is', async () => {
    const reason = 'VM "$(id)" VIF 1: %s %n \\n `uname` $HOME';
    await serveHook(() => Promise.resolve({ ok: false, reason }));
    assert.equal((await hook('prepare', WITH_INTENT)).stderr, `vifd: refused: ${reason}\n`);
  });

  it('refuses a 2 MiB XML with the limit in the reason, without handing it to the daemon', async () => {
    await serveHook(() => Promise.resolve({ ok: true }));
    const run = await hook('prepare', Buffer.alloc(2 * 1024 * 1024, 0x78));
    assert.equal(run.code, 1);
    assert.equal(run.stderr, "vifd: refused: the domain XML is larger than 1048576 bytes (the hook socket's limit); nothing was done\n");
    assert.deepEqual(hookCalls, []);
  });

  it('gives up at its own bound when the daemon never answers, and fails closed', async () => {
    await serveHook(() => new Promise<HookVerdict>(() => undefined));
    const run = await hook('prepare', WITH_INTENT, { VIFD_HOOK_VERDICT_TIMEOUT_S: '1' });
    assert.equal(run.code, 1);
    assert.equal(run.stderr, `vifd: refused: no verdict from vifd on ${hookSocket} (it closed the connection, or did not answer within 1 s)\n`);
    assert.ok(run.ms >= 900 && run.ms < 10_000, `took ${Math.round(run.ms)} ms for a 1 s bound`);
  });

  it("shows the daemon's own refusal when the daemon's deadline comes first", async () => {
    await serveHook(() => new Promise<HookVerdict>(() => undefined), { deadlineMs: 300 });
    const run = await hook('prepare', WITH_INTENT);
    assert.deepEqual({ code: run.code, stderr: run.stderr }, { code: 1, stderr: 'vifd: refused: vifd gave no verdict within 0.3 s\n' });
  });

  it('falls back to the node hook program when the hook socket is absent', async () => {
    await serveControl();
    assert.equal(existsSync(hookSocket), false);
    const prepare = await hook('prepare', WITH_INTENT);
    const release = await hook('release', WITH_INTENT);
    assert.deepEqual([prepare.code, release.code], [0, 0]);
    assert.deepEqual(controlCalls, ['prepare', 'release']);
  });

  it('keeps failing closed through the node program when no daemon runs at all', async () => {
    const run = await hook('prepare', WITH_INTENT, { VIFD_HOOK_CONNECT_TIMEOUT_MS: '300' });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^vifd: refusing to start VM ".*": its VIFs are managed by vifd, which is not running/);
  });

  it("falls back to the node program, with the XML whole, on a dead daemon's socket file", async () => {
    // A socket file nothing listens on, as a SIGKILLed daemon leaves it.
    const listener = net.createServer();
    const live = join(dir, 'live.sock');
    await new Promise<void>((done) => listener.listen(live, done));
    linkSync(live, hookSocket);
    await new Promise<void>((done) => listener.close(() => { done(); }));
    await serveControl();
    const run = await hook('prepare', WITH_INTENT);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(controlCalls, ['prepare']);
  });

  it('without a daemon, refuses the live migration of a VM with a VF that has no failover twin in the node program, and passes others', async () => {
    const vf = "<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:07'/><source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x4'/></source></interface>";
    const withVf = `<domain type='kvm'><name>mover</name><uuid>3f2504e0-4f89-11d3-9a0c-0305e82c3301</uuid><devices>${vf}</devices></domain>`;
    const refused = await hook('migrate', withVf);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^vifd: refused: VM "mover": live migration refused: interface 52:54:00:00:00:07 is an SR-IOV VF \(0000:03:10\.4\)/);
    assert.equal(refused.stdout, '', 'a migrate hook printing XML would replace the domain definition');
    const plain = await hook('migrate', WITH_INTENT);
    assert.deepEqual({ code: plain.code, stdout: plain.stdout, stderr: plain.stderr }, { code: 0, stdout: '', stderr: '' });
  });

  it('falls back to the node program when nc is not installed', async () => {
    await serveHook(() => Promise.resolve({ ok: false, reason: 'the fast path must not be taken' }));
    await serveControl();
    const run = await hook('prepare', WITH_INTENT, { PATH: join(dir, 'empty-bin') });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual([hookCalls.length, controlCalls], [0, ['prepare']]);
  });

  it('reads and ignores the events vifd does not act on, asking nobody', async () => {
    await serveHook(() => Promise.resolve({ ok: false, reason: 'not asked' }));
    await serveControl();
    for (const op of ['start', 'started', 'stopped', 'reconnect', 'attach', 'restore']) {
      const run = await hook(op, WITH_INTENT);
      assert.deepEqual({ code: run.code, stderr: run.stderr }, { code: 0, stderr: '' }, op);
    }
    assert.deepEqual([hookCalls.length, controlCalls.length], [0, 0]);
  });
});
