// A private ovsdb-server (own DB file, socket and pid file), optionally with its
// own ovs-vswitchd, for tests that kill and restart the server: the host's
// shared Open vSwitch is never touched. Registered in the Lab, so it is stopped
// and its files removed in any case. Bridges on the private vswitchd are made
// with bridge() so they are deleted before it stops: a netdev bridge's internal
// device would otherwise outlive the daemon.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.js';
import { deleteLink } from './net.js';
import type { Lab } from './lab.js';

const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export class PrivateOvsdbServer {
  readonly socket: string;
  private readonly db: string;
  private readonly pidFile: string;

  private constructor(private readonly dir: string) {
    this.socket = join(dir, 'db.sock');
    this.db = join(dir, 'conf.db');
    this.pidFile = join(dir, 'ovsdb-server.pid');
  }

  private vswitchdPidFile: string | null = null;

  /**
   * `netns`: run ovs-vswitchd in that network namespace (its devices live there). Needed while the
   * host's own ovs-vswitchd runs: two userspace datapaths in one namespace fight over "ovs-netdev".
   */
  static async create(lab: Lab, options: { withVswitchd?: boolean; netns?: string } = {}): Promise<PrivateOvsdbServer> {
    const server = new PrivateOvsdbServer(mkdtempSync(join(tmpdir(), 'vifd-test-ovsdb-')));
    lab.defer(`private ovsdb-server in ${server.dir}`, async () => {
      await server.stopVswitchd();
      await server.stop();
      rmSync(server.dir, { recursive: true, force: true });
    });
    await run(['ovsdb-tool', 'create', server.db, SCHEMA]);
    await server.start();
    await server.vsctl('init');
    if (options.withVswitchd === true) {
      server.vswitchdPidFile = join(server.dir, 'ovs-vswitchd.pid');
      const inNetns = options.netns === undefined ? [] : ['ip', 'netns', 'exec', options.netns];
      await run([...inNetns, 'ovs-vswitchd', `unix:${server.socket}`, `--pidfile=${server.vswitchdPidFile}`,
        `--unixctl=${join(server.dir, 'ovs-vswitchd.ctl')}`, '--detach', '--no-chdir', '-vconsole:off',
        `--log-file=${join(server.dir, 'ovs-vswitchd.log')}`]);
    }
    return server;
  }

  /** A netdev bridge on this server, deleted (through its vswitchd) when the lab cleans up. */
  async bridge(lab: Lab, name: string): Promise<void> {
    lab.defer(`private bridge ${name}`, async () => {
      if (existsSync(this.socket)) await this.vsctl('--if-exists', 'del-br', name);
      await deleteLink(name); // the internal device, if the daemon died first
    });
    await this.vsctl('add-br', name, '--', 'set', 'bridge', name, 'datapath_type=netdev');
  }

  /** The pids of the running daemons (a bench reads their CPU time); null for one not running. */
  pids(): { ovsdbServer: number | null; vswitchd: number | null } {
    const read = (file: string | null): number | null => (file !== null && existsSync(file) ? Number.parseInt(readFileSync(file, 'utf8'), 10) : null);
    return { ovsdbServer: read(this.pidFile), vswitchd: read(this.vswitchdPidFile) };
  }

  private async stopVswitchd(): Promise<void> {
    if (this.vswitchdPidFile === null || !existsSync(this.vswitchdPidFile)) return;
    const pid = Number.parseInt(readFileSync(this.vswitchdPidFile, 'utf8'), 10);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    while (existsSync(`/proc/${pid}`)) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async start(): Promise<void> {
    await run(['ovsdb-server', this.db, `--remote=punix:${this.socket}`, `--pidfile=${this.pidFile}`,
      `--unixctl=${join(this.dir, 'ovsdb-server.ctl')}`, '--detach', '--no-chdir', '-vconsole:off',
      `--log-file=${join(this.dir, 'ovsdb-server.log')}`]);
  }

  /** Stops the server and waits until its process is gone. */
  async stop(): Promise<void> {
    if (!existsSync(this.pidFile)) return;
    const pid = Number.parseInt(readFileSync(this.pidFile, 'utf8'), 10);
    try {
      process.kill(pid, 'SIGKILL'); // a crash, not a clean shutdown: what the client must survive
    } catch {
      return; // already gone
    }
    while (existsSync(`/proc/${pid}`)) await new Promise((resolve) => setTimeout(resolve, 20));
    rmSync(this.pidFile, { force: true });
    rmSync(this.socket, { force: true });
  }

  /** ovs-vsctl against this server; it waits for ovs-vswitchd only when this server has one. */
  vsctl(...args: string[]): Promise<string> {
    const wait = this.vswitchdPidFile === null ? ['--no-wait'] : [];
    return run(['ovs-vsctl', `--db=unix:${this.socket}`, '--timeout=10', ...wait, ...args]);
  }
}
