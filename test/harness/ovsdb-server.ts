// A private ovsdb-server (own DB file, socket and pid file) for tests that
// kill and restart the server: the host's shared Open vSwitch is never touched.
// Registered in the Lab, so it is stopped and its files removed in any case.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.js';
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

  static async create(lab: Lab): Promise<PrivateOvsdbServer> {
    const server = new PrivateOvsdbServer(mkdtempSync(join(tmpdir(), 'vifd-test-ovsdb-')));
    lab.defer(`private ovsdb-server in ${server.dir}`, async () => {
      await server.stop();
      rmSync(server.dir, { recursive: true, force: true });
    });
    await run(['ovsdb-tool', 'create', server.db, SCHEMA]);
    await server.start();
    await server.vsctl('--no-wait', 'init');
    return server;
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

  /** ovs-vsctl against this server (never waits for an ovs-vswitchd: there is none). */
  vsctl(...args: string[]): Promise<string> {
    return run(['ovs-vsctl', `--db=unix:${this.socket}`, '--timeout=10', ...args]);
  }
}
