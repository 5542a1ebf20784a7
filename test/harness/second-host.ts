// A second hypervisor host on this machine, for migration tests: its own
// network namespace (interface names are per namespace, and it must create the
// same TAP names as host A), its own mount namespace with private run, state
// and config directories for libvirt, Open vSwitch and vifd, its own UTS name
// and libvirt host UUID (libvirt refuses to migrate to "the same host"), and
// its own libvirtd, virtlogd, ovsdb-server and ovs-vswitchd. A management veth
// carries libvirt's connection and the migration stream; a trunk veth joins the
// two hosts' bridges so guest VLANs span both.
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tryRun } from './exec.js';
import type { RunOptions, RunResult } from './exec.js';
import type { DaemonHost } from './daemon.js';
import type { Lab } from './lab.js';
import { uniqueName } from './names.js';
import { deleteLink } from './net.js';

/** Directories that host B gets its own copy of, bound over the host's in its mount namespace. */
const PRIVATE_DIRS = ['/etc/libvirt', '/var/lib/libvirt', '/run/libvirt', '/var/log/libvirt', '/var/cache/libvirt',
  '/etc/openvswitch', '/run/openvswitch', '/var/log/openvswitch', '/run/vifd', '/var/lib/vifd'];
export const MGMT_A = '10.99.0.1';
export const MGMT_B = '10.99.0.2';

// Runs in the new namespaces, before anything else there: private copies of the
// directories above ($1 is the base dir, the rest are the paths), then a name.
const ANCHOR_SCRIPT = 'set -e; base=$1; shift; for dir in "$@"; do mkdir -p "$base$dir" "$dir"; mount --bind "$base$dir" "$dir"; done; ' +
  // sysfs shows the network namespace of whoever mounted it: B needs its own to see its own devices.
  'mount -t sysfs sysfs /sys; hostname vifd-test-hostb; ip link set lo up; echo ready; exec sleep infinity';

export class SecondHost {
  private anchor: ChildProcess | null = null;
  readonly hostUuid = randomUUID();
  readonly uri = `qemu+tcp://${MGMT_B}/system`;

  private constructor(readonly base: string, readonly bridge: string) {}

  get pid(): number {
    const pid = this.anchor?.pid;
    if (pid === undefined) throw new Error('host B is not running');
    return pid;
  }

  /** argv that runs `argv` inside host B's namespaces. */
  inside(argv: readonly string[]): string[] {
    return ['nsenter', '-t', String(this.pid), '-m', '-n', '-u', '--', ...argv];
  }

  exec(argv: readonly string[], options: RunOptions = {}): Promise<string> {
    return run(this.inside(argv), options);
  }

  tryExec(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return tryRun(this.inside(argv), options);
  }

  /** For DaemonProcess.start: vifd runs inside B, its socket reached through B's private /run/vifd. */
  daemonHost(): DaemonHost {
    return { name: 'hostb', socketPath: this.hostPath('/run/vifd/vifd.sock'), wrap: (argv) => this.inside(argv) };
  }

  /** The host-side path of a file in one of B's private directories. */
  hostPath(path: string): string {
    return join(this.base, path);
  }

  /**
   * Starts host B with its services and an OVS bridge, wired to host A's
   * `bridgeA` by a trunk veth. Everything is torn down by the lab's cleanup.
   */
  static async create(lab: Lab, bridgeA: string): Promise<SecondHost> {
    const base = lab.scratchPath('hostb');
    mkdirSync(base, { recursive: true });
    const host = new SecondHost(base, uniqueName('bridge'));
    host.writeConfig();
    lab.defer('host B', () => host.destroy());
    await host.startAnchor();
    await host.startSwitch();
    await host.wire(lab, bridgeA);
    await host.startLibvirt(); // after wiring: libvirtd listens on the management address
    return host;
  }

  private writeConfig(): void {
    const etc = join(this.base, 'etc/libvirt');
    mkdirSync(join(etc, 'hooks'), { recursive: true });
    if (existsSync('/etc/libvirt/hooks/qemu.d')) cpSync('/etc/libvirt/hooks/qemu.d', join(etc, 'hooks/qemu.d'), { recursive: true });
    for (const file of ['libvirt.conf', 'libvirt-admin.conf']) if (existsSync(join('/etc/libvirt', file))) copyFileSync(join('/etc/libvirt', file), join(etc, file));
    const qemu = existsSync('/etc/libvirt/qemu.conf') ? readFileSync('/etc/libvirt/qemu.conf', 'utf8') : '';
    // No cgroups: during a migration both hosts run a QEMU with the same machine name in one cgroup tree.
    writeFileSync(join(etc, 'qemu.conf'), `${qemu}\nuser = "root"\ngroup = "root"\nsecurity_driver = "none"\ncgroup_controllers = [ ]\n`);
    writeFileSync(join(etc, 'libvirtd.conf'), [
      'listen_tls = 0', 'listen_tcp = 1', 'auth_tcp = "none"', `listen_addr = "${MGMT_B}"`, `host_uuid = "${this.hostUuid}"`, '',
    ].join('\n'));
  }

  private startAnchor(): Promise<void> {
    const child = spawn('unshare', ['--mount', '--net', '--uts', '--propagation', 'private', '--', 'sh', '-c', ANCHOR_SCRIPT, 'sh', this.base, ...PRIVATE_DIRS],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    this.anchor = child;
    return new Promise((resolve, reject) => {
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('ready')) resolve();
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
      child.once('exit', (code) => { reject(new Error(`host B's namespace anchor exited (${String(code)}): ${output}`)); });
    });
  }

  private async startSwitch(): Promise<void> {
    await this.exec(['ovsdb-tool', 'create', '/etc/openvswitch/conf.db', '/usr/share/openvswitch/vswitch.ovsschema']);
    await this.exec(['ovsdb-server', '/etc/openvswitch/conf.db', '--remote=punix:/run/openvswitch/db.sock', '-vconsole:off',
      '--pidfile=/run/openvswitch/ovsdb-server.pid', '--detach', '--log-file=/var/log/openvswitch/ovsdb-server.log']);
    await this.exec(['ovs-vsctl', '--no-wait', 'init']);
    await this.exec(['ovs-vswitchd', 'unix:/run/openvswitch/db.sock', '-vconsole:off', '--pidfile=/run/openvswitch/ovs-vswitchd.pid',
      '--detach', '--log-file=/var/log/openvswitch/ovs-vswitchd.log']);
    await this.exec(['ovs-vsctl', '--timeout=30', 'add-br', this.bridge, '--', 'set', 'bridge', this.bridge, 'datapath_type=netdev']);
  }

  /** Stops B's libvirtd (its guests' QEMU processes, if any, keep running as on a real host). */
  async stopLibvirtd(): Promise<void> {
    await this.stopPidFile('/run/libvirt/libvirtd.pid');
  }

  /** Starts B's libvirtd and waits until it accepts clients (after autostarting its guests). */
  async startLibvirtd(timeoutMs = 30_000): Promise<void> {
    await this.exec(['libvirtd', '--daemon', '--listen', '--pid-file', '/run/libvirt/libvirtd.pid'], { timeoutMs });
    await this.waitForLibvirtd(timeoutMs);
  }

  private async waitForLibvirtd(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.tryExec(['virsh', '-q', '-c', 'qemu:///system', 'version'])).code !== 0) {
      if (Date.now() > deadline) throw new Error(`host B's libvirtd did not answer: ${this.log('/var/log/libvirt/libvirtd.log')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private async startLibvirt(): Promise<void> {
    // Pid files in B's private /run/libvirt: the default /run/*.pid is host A's, shared, and also a lock.
    await this.exec(['virtlogd', '--daemon', '--pid-file', '/run/libvirt/virtlogd.pid']);
    await this.exec(['libvirtd', '--daemon', '--listen', '--pid-file', '/run/libvirt/libvirtd.pid']);
    await this.waitForLibvirtd(30_000);
  }

  /** B's libvirtd log, for a failing test's message. */
  libvirtdLog(): string {
    return this.log('/var/log/libvirt/libvirtd.log');
  }

  private log(path: string): string {
    const file = this.hostPath(path);
    return existsSync(file) ? readFileSync(file, 'utf8').slice(-2000) : '(no log)';
  }

  /** Management veth (A 10.99.0.1, B 10.99.0.2) and a trunk veth between the two bridges. */
  private async wire(lab: Lab, bridgeA: string): Promise<void> {
    const [mgmtA, mgmtB, trunkA, trunkB] = [uniqueName('veth'), uniqueName('veth'), uniqueName('veth'), uniqueName('veth')];
    lab.defer(`veth ${mgmtA}`, () => deleteLink(mgmtA));
    lab.defer(`veth ${trunkA}`, () => deleteLink(trunkA));
    for (const [a, b] of [[mgmtA, mgmtB], [trunkA, trunkB]] as const) {
      await run(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      await run(['ip', 'link', 'set', b, 'netns', String(this.pid)]);
      await run(['ip', 'link', 'set', a, 'up']);
      await this.exec(['ip', 'link', 'set', b, 'up']);
    }
    await run(['ip', 'addr', 'add', `${MGMT_A}/24`, 'dev', mgmtA]);
    await this.exec(['ip', 'addr', 'add', `${MGMT_B}/24`, 'dev', mgmtB]);
    // No tag: a trunk carrying every VLAN between the two switches.
    await run(['ovs-vsctl', '--timeout=30', 'add-port', bridgeA, trunkA]);
    await this.exec(['ovs-vsctl', '--timeout=30', 'add-port', this.bridge, trunkB]);
  }

  private async stopPidFile(path: string): Promise<void> {
    const file = this.hostPath(path);
    if (!existsSync(file)) return;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return; // already gone
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    process.kill(pid, 'SIGKILL');
  }

  /** Destroys B's domains, stops its services, ends its namespaces (its links go with them). */
  async destroy(): Promise<void> {
    if (this.anchor === null) return;
    const names = await this.tryExec(['virsh', '-q', '-c', 'qemu:///system', 'list', '--all', '--uuid']);
    for (const uuid of names.stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '')) {
      await this.tryExec(['virsh', '-q', '-c', 'qemu:///system', 'destroy', uuid]);
      await this.tryExec(['virsh', '-q', '-c', 'qemu:///system', 'undefine', uuid]);
    }
    await this.stopPidFile('/run/libvirt/libvirtd.pid');
    await this.stopPidFile('/run/libvirt/virtlogd.pid');
    await this.stopPidFile('/run/openvswitch/ovs-vswitchd.pid');
    await this.stopPidFile('/run/openvswitch/ovsdb-server.pid');
    const anchor = this.anchor;
    this.anchor = null;
    anchor.kill('SIGKILL');
  }
}
