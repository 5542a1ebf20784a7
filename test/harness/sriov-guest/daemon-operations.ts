// What the host test can ask the agent in the SR-IOV test guest to do with a
// real vifd daemon (this checkout's dist/src/cli/vifd.js) running inside the
// guest beside the real igb PF driver: a private ovsdb-server (the daemon's
// switch replica; no ovs-vswitchd: an SR-IOV VIF writes no port), the daemon
// with its own config and sockets, killed or stopped at will, its control
// socket and metrics endpoint, and the libvirt hook shim run as libvirtd runs
// it. Everything lives in the guest's tmpfs and dies with the guest.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { callControl } from '../../../src/api/control-client.js';
import { renderHookShim, runHookShim } from '../hook-shim.js';
import type { HookShimRun } from '../hook-shim.js';
import { CHECKOUT } from './images.js';

type Args = Record<string, unknown>;

const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
/** netcat-openbsd, which the hook shim's fast path (nc -U -N) needs. */
const NETCAT_OPENBSD = '/usr/bin/nc.openbsd';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const text = (args: Args, key: string): string => {
  const value = args[key];
  if (typeof value !== 'string') throw new TypeError(`argument ${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
};

/** Runs argv to completion; rejects with its output unless it exits 0. */
function ok(argv: readonly string[]): Promise<string> {
  const [command = '', ...rest] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(command, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => { if (code === 0) resolve(output); else reject(new Error(`${argv.join(' ')} exited ${String(code)}: ${output}`)); });
  });
}

async function answers(socket: string): Promise<boolean> {
  try {
    await callControl(socket, 'ping', {}, { connectTimeoutMs: 0, timeoutMs: 2000 });
    return true;
  } catch {
    return false; // not (yet) served
  }
}

export class DaemonOperations {
  private child: ChildProcess | null = null;
  private exited: Promise<string> = Promise.resolve('not started');
  private output = '';
  /** Where the output of the latest launch starts. */
  private launchedAt = 0;

  /** ovsdb-server on a fresh database in `dir` (the guest's tmpfs), initialised as ovs-vsctl init does. */
  private async startOvsdb(args: Args): Promise<string> {
    const dir = text(args, 'dir');
    await mkdir(dir, { recursive: true });
    const socket = join(dir, 'db.sock');
    await ok(['ovsdb-tool', 'create', join(dir, 'conf.db'), OVS_SCHEMA]);
    await ok(['ovsdb-server', join(dir, 'conf.db'), `--remote=punix:${socket}`, `--pidfile=${join(dir, 'ovsdb-server.pid')}`,
      `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, '--detach', '--no-chdir', '-vconsole:off', `--log-file=${join(dir, 'ovsdb-server.log')}`]);
    await ok(['ovs-vsctl', `--db=unix:${socket}`, '--timeout=10', '--no-wait', 'init']);
    return socket;
  }

  /** Starts vifd with `config` and waits (up to `timeoutMs`) until it answers on `socket`. */
  private async startDaemon(args: Args): Promise<number | undefined> {
    if (this.child !== null) throw new Error('a vifd is already running in the guest');
    const socket = text(args, 'socket');
    const child = spawn(process.execPath, [join(CHECKOUT, 'dist/src/cli/vifd.js'), '--config', text(args, 'config')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.launchedAt = this.output.length;
    const collect = (chunk: Buffer): void => { this.output += chunk.toString('utf8'); };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => { child.once('exit', (code, signal) => { this.child = null; resolve(signal === null ? `exit ${String(code)}` : `signal ${signal}`); }); });
    const deadline = Date.now() + (typeof args.timeoutMs === 'number' ? args.timeoutMs : 60_000);
    while (!(await answers(socket))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`vifd ended (${await this.exited}) before answering:\n${this.output.slice(this.launchedAt)}`);
      if (Date.now() > deadline) throw new Error(`vifd did not answer on ${socket} in time:\n${this.output.slice(this.launchedAt)}`);
      await sleep(200);
    }
    return child.pid;
  }

  /** Sends `signal` (SIGKILL: a crash) and resolves with how the daemon ended. */
  private async signalDaemon(args: Args): Promise<string> {
    const child = this.child;
    if (child === null) throw new Error('no vifd running in the guest');
    child.kill(text(args, 'signal') as NodeJS.Signals);
    return this.exited;
  }

  /** Waits until the latest launch logged a line matching `pattern`; resolves with that launch's log. */
  private async waitForLog(args: Args): Promise<string> {
    const pattern = new RegExp(text(args, 'pattern'));
    const deadline = Date.now() + (typeof args.timeoutMs === 'number' ? args.timeoutMs : 60_000);
    while (!pattern.test(this.output.slice(this.launchedAt))) {
      if (Date.now() > deadline) throw new Error(`no vifd log line matching ${String(pattern)}:\n${this.output.slice(this.launchedAt).slice(-4000)}`);
      await sleep(200);
    }
    return this.output.slice(this.launchedAt);
  }

  /** The hook shim (hooks/qemu.d/vifd, rendered for this checkout) as libvirtd runs it, on the daemon's hook socket. */
  private async hookShim(args: Args): Promise<HookShimRun> {
    const dir = join('/tmp', `vifd-hook-${process.pid}`);
    await mkdir(join(dir, 'bin'), { recursive: true });
    try {
      const shim = renderHookShim(dir);
      // The host's /usr/bin/nc is a link through /etc/alternatives, which the guest (its own /etc) lacks.
      await symlink(NETCAT_OPENBSD, join(dir, 'bin', 'nc'));
      return await runHookShim(shim, { domain: text(args, 'domain'), op: text(args, 'op'), subop: 'begin' }, text(args, 'xml'),
        // Both shims: one hook socket (VIFD_HOOK_SOCKET) or, on main since 8c73eef, one per operation in VIFD_HOOK_SOCKET_DIR.
        { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin'}`, VIFD_HOOK_SOCKET: text(args, 'hookSocket'),
          VIFD_HOOK_SOCKET_DIR: dirname(text(args, 'hookSocket')), VIFD_SOCKET: text(args, 'socket') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private readonly table: Record<string, (args: Args) => Promise<unknown>> = {
    startOvsdb: (args) => this.startOvsdb(args),
    startDaemon: (args) => this.startDaemon(args),
    signalDaemon: (args) => this.signalDaemon(args),
    daemonLog: () => Promise.resolve(this.output),
    waitForDaemonLog: (args) => this.waitForLog(args),
    control: (args) => callControl(text(args, 'socket'), text(args, 'method'), (args.params ?? {}) as Record<string, unknown>, { connectTimeoutMs: 5000, timeoutMs: 60_000 }),
    metrics: async (args) => (await fetch(text(args, 'url'))).text(),
    hookShim: (args) => this.hookShim(args),
  };

  has(op: string): boolean {
    return Object.hasOwn(this.table, op);
  }

  async call(op: string, args: Args): Promise<unknown> {
    const operation = this.table[op];
    if (operation === undefined) throw new Error(`unknown operation ${op}`);
    return operation(args);
  }

  /** The agent stops: the daemon goes too (the guest powers off right after). */
  close(): void {
    this.child?.kill('SIGKILL');
  }
}
