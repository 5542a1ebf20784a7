// sd_notify as systemd receives it: a unix datagram socket bound by the test
// (Node has none, so libc through koffi), NOTIFY_SOCKET set for a child
// process that calls vifd's functions, and the exact datagrams read back.
// Both transports (libsystemd's sd_notify and vifd's own datagram), a path
// and an abstract socket name.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryRun } from '../../harness/exec.js';
import { NotifySocket } from './notify-socket.js';

const CHILD = 'dist/test/integration/daemon/sd-notify-child.js';
interface ChildReport { sent: boolean[]; transport: string | null; watchdogMs: number | null }

async function runChild(env: NodeJS.ProcessEnv, args: readonly string[]): Promise<ChildReport> {
  const saved = { ...process.env };
  // tryRun passes the test's own environment; set the child's for the spawn only.
  Object.assign(process.env, env);
  for (const [key, value] of Object.entries(env)) if (value === undefined) Reflect.deleteProperty(process.env, key);
  try {
    const result = await tryRun(['node', CHILD, ...args], { timeoutMs: 20_000 });
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as ChildReport;
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) Reflect.deleteProperty(process.env, key);
    Object.assign(process.env, saved);
  }
}

const ALL = ['ready', 'watchdog', 'reloading', 'stopping'];

function assertDatagrams(datagrams: readonly string[], before: bigint, after: bigint): void {
  assert.equal(datagrams.length, 4, JSON.stringify(datagrams));
  assert.equal(datagrams[0], 'READY=1');
  assert.equal(datagrams[1], 'WATCHDOG=1');
  const reload = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(datagrams[2] ?? '');
  assert.ok(reload !== null, JSON.stringify(datagrams[2]));
  // CLOCK_MONOTONIC is one clock for every process: the child's reading lies between ours.
  const usec = BigInt(reload[1] ?? '0');
  assert.ok(usec >= before && usec <= after, `MONOTONIC_USEC ${usec} outside [${before}, ${after}]`);
  assert.equal(datagrams[3], 'STOPPING=1');
}

describe('integration: sd_notify datagrams (src/daemon/sd-notify.ts)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'vifd-test-notify-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const cases = [
    { what: 'libsystemd, a socket path', name: () => join(dir, 'notify.sock'), args: [] as string[], transport: null },
    { what: 'libsystemd, an abstract name', name: () => `@vifd-test-${randomBytes(6).toString('hex')}`, args: [], transport: null },
    { what: "vifd's own datagram (no libsystemd), a socket path", name: () => join(dir, 'own.sock'), args: ['--library', 'libsystemd-absent.so.0'], transport: 'datagram' },
    { what: "vifd's own datagram (no libsystemd), an abstract name", name: () => `@vifd-test-${randomBytes(6).toString('hex')}`, args: ['--library', 'libsystemd-absent.so.0'], transport: 'datagram' },
  ];
  for (const { what, name, args, transport } of cases) {
    it(`sends READY=1, WATCHDOG=1, RELOADING=1 with MONOTONIC_USEC and STOPPING=1: ${what}`, async () => {
      const server = new NotifySocket(name());
      try {
        const before = process.hrtime.bigint() / 1000n;
        const report = await runChild({ NOTIFY_SOCKET: server.name }, [...ALL, ...args]);
        const after = process.hrtime.bigint() / 1000n;
        assert.deepEqual(report.sent, [true, true, true, true]);
        if (transport !== null) assert.equal(report.transport, transport);
        else assert.equal(report.transport, 'libsystemd');
        assertDatagrams(server.drain(), before, after);
      } finally {
        server.close();
      }
    });
  }

  it('does nothing without NOTIFY_SOCKET', async () => {
    const report = await runChild({ NOTIFY_SOCKET: undefined }, ALL);
    assert.deepEqual(report, { sent: [false, false, false, false], transport: null, watchdogMs: null });
  });

  it('fails loudly when NOTIFY_SOCKET names nothing listening', async () => {
    const saved = process.env.NOTIFY_SOCKET;
    process.env.NOTIFY_SOCKET = join(dir, 'nobody.sock');
    try {
      const result = await tryRun(['node', CHILD, 'ready', '--library', 'libsystemd-absent.so.0']);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /NotifyError: sending "READY=1" to .*nobody\.sock failed \(errno 2\)/);
    } finally {
      if (saved === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = saved;
    }
  });

  it('reads the watchdog interval from WATCHDOG_USEC for its own pid only', async () => {
    assert.equal((await runChild({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: undefined }, [])).watchdogMs, 15_000);
    assert.equal((await runChild({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, [])).watchdogMs, null);
  });
});
