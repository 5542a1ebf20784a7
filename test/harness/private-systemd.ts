// A real systemd (the host's /lib/systemd/systemd) as PID 1 of private PID,
// mount, UTS and IPC namespaces, for testing vifd's unit as systemd runs it:
// Type=notify, the watchdog, ExecReload, RestartPreventExitStatus and the
// unit's sandboxing. This machine's PID 1 is not systemd, so this is the only
// systemd here.
//
// It must not touch the host: SYSTEMD_UNIT_PATH holds ONLY the scratch unit
// directory (the unit under test, an empty target to boot into, the empty
// targets DefaultDependencies= names), so none of the host's units (tmpfiles,
// udevd, journald, networking) is started; /run is a private tmpfs with the
// host's OVSDB and libvirt socket directories bound in, so the daemon reaches
// the real services while its own /run/vifd stays private. The network
// namespace is the host's: vifd plugs real TAPs into the real switch.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tryRun } from './exec.js';
import type { RunResult } from './exec.js';

const TARGET = 'vifd-test.target';
// What a service with DefaultDependencies=yes is ordered against.
const EMPTY_TARGETS = ['sysinit', 'basic', 'shutdown', 'sockets', 'paths', 'timers', 'slices'];
const START_TIMEOUT_MS = 20_000;

// $1: the scratch directory. Fixed text: no value reaches a shell string.
const INNER = `#!/bin/sh
set -e
scratch=$1
mount --bind /run "$scratch/host-run"
mount -t tmpfs -o mode=0755 tmpfs /run
for dir in openvswitch libvirt; do
  mkdir -p "/run/$dir"
  mount --bind "$scratch/host-run/$dir" "/run/$dir"
done
exec env container=vifd-test SYSTEMD_UNIT_PATH="$scratch/units" /lib/systemd/systemd --system --unit=${TARGET} --log-target=console
`;

export class PrivateSystemd {
  private constructor(
    private readonly child: ChildProcess,
    /** systemd's PID as the host sees it. */
    readonly pid: number,
    readonly unitDir: string,
    private readonly output: () => string,
  ) {}

  /** Boots systemd with `unitFile` (copied) as its only service. */
  static async start(scratch: string, unitFile: string): Promise<PrivateSystemd> {
    const unitDir = join(scratch, 'units');
    mkdirSync(unitDir, { recursive: true });
    mkdirSync(join(scratch, 'host-run'), { recursive: true });
    copyFileSync(unitFile, join(unitDir, 'vifd.service'));
    writeFileSync(join(unitDir, TARGET), '[Unit]\nDescription=vifd tests under a private systemd\n');
    for (const name of EMPTY_TARGETS) writeFileSync(join(unitDir, `${name}.target`), `[Unit]\nDescription=${name} (empty)\n`);
    const inner = join(scratch, 'private-systemd.sh');
    writeFileSync(inner, INNER, { mode: 0o755 });
    const child = spawn('unshare', ['--pid', '--mount', '--uts', '--ipc', '--fork', '--mount-proc', '--propagation', 'private', inner, scratch],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => { output += chunk.toString('utf8'); };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const pid = await childPid(child, () => output);
    const systemd = new PrivateSystemd(child, pid, unitDir, () => output);
    await systemd.waitUntilServing();
    return systemd;
  }

  /** Runs argv inside the namespaces (systemctl, vifctl, cat /proc/...). */
  exec(argv: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
    return tryRun(['nsenter', '-t', String(this.pid), '-m', '-p', '-u', '-i', ...argv], { timeoutMs });
  }

  async systemctl(...args: string[]): Promise<RunResult> {
    return this.exec(['systemctl', ...args]);
  }

  /** `systemctl show` properties of vifd.service. */
  async show(...properties: string[]): Promise<Record<string, string>> {
    const result = await this.systemctl('show', 'vifd.service', '-p', properties.join(','));
    if (result.code !== 0) throw new Error(`systemctl show failed: ${result.stderr}`);
    return Object.fromEntries(result.stdout.trim().split('\n').map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)];
    }));
  }

  /** Adds a drop-in for vifd.service and reloads systemd's view of the units. */
  async dropIn(name: string, text: string): Promise<void> {
    const dir = join(this.unitDir, 'vifd.service.d');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), text);
    await this.mustSucceed('daemon-reload');
  }

  async mustSucceed(...args: string[]): Promise<void> {
    const result = await this.systemctl(...args);
    if (result.code !== 0) {
      const status = await this.systemctl('status', 'vifd.service', '--no-pager');
      throw new Error(`systemctl ${args.join(' ')} failed (${result.code}): ${result.stderr}\n${status.stdout}`);
    }
  }

  /** The environment systemd gave vifd's main process. */
  async mainEnvironment(): Promise<Map<string, string>> {
    const { MainPID: main = '0' } = await this.show('MainPID');
    const environ = await this.exec(['cat', `/proc/${main}/environ`]);
    return new Map(environ.stdout.split('\0').filter((entry) => entry.includes('=')).map((entry) => {
      const at = entry.indexOf('=');
      return [entry.slice(0, at), entry.slice(at + 1)];
    }));
  }

  /** Stops vifd the way systemd does, then ends systemd and everything in its namespace. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.systemctl('stop', 'vifd.service').catch(() => undefined);
    const exited = new Promise((resolve) => { this.child.once('exit', resolve); });
    // PID 1 of the namespace: SIGKILL takes every process in it along.
    await run(['kill', '-KILL', String(this.pid)]).catch(() => undefined);
    await exited;
  }

  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const result = await this.systemctl('show', '-p', 'SystemState', '--value').catch(() => null);
      if (result?.code === 0 && /running|degraded|starting/.test(result.stdout)) return;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the private systemd did not come up:\n${this.output()}\n${result?.stderr ?? ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** unshare forks; its one child (which became systemd) is PID 1 of the new namespace. */
async function childPid(unshare: ChildProcess, output: () => string): Promise<number> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const children = tryRead(`/proc/${String(unshare.pid)}/task/${String(unshare.pid)}/children`).trim();
    if (children !== '') return Number(children.split(' ')[0]);
    if (unshare.exitCode !== null || Date.now() > deadline) throw new Error(`unshare did not start systemd:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function tryRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // not there yet, or gone
  }
}
