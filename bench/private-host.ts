// A host of the bench's own: a network namespace with a private ovsdb-server
// and ovs-vswitchd. A bench that makes vifd-owned ports and TAPs must not
// share Open vSwitch or the TAP namespace with a vifd running on the machine
// (a test's or an operator's): that vifd would take them for orphans and
// remove them mid-run, and do work for nothing meanwhile.
// The bench file calls runOnPrivateHost(import.meta.url, body): the first
// process makes the namespace and runs the same file again inside it, where
// body runs; the namespace (and every TAP left in it) goes when it ends.
import { spawn } from 'node:child_process';
import { run } from '../test/harness/exec.js';
import { Lab } from '../test/harness/lab.js';
import { PrivateOvsdbServer } from '../test/harness/ovsdb-server.js';

const INSIDE = 'VIFD_BENCH_PRIVATE_HOST';

export interface PrivateHost {
  readonly lab: Lab;
  readonly ovs: PrivateOvsdbServer;
  /** ovs-vsctl on the private server, waiting as long as a bridge of thousands of ports takes. */
  vsctl(...args: string[]): Promise<string>;
  /** A fresh userspace-datapath bridge (an old one of that name is deleted first), deleted at the end. */
  freshBridge(name: string): Promise<void>;
}

export async function runOnPrivateHost(entry: string, body: (host: PrivateHost) => Promise<void>): Promise<void> {
  if (process.env[INSIDE] === '1') {
    await inside(body);
    // Engines and clients the body made may hold timers; the namespace ends with this process either way.
    process.exit(0);
  }
  const lab = new Lab();
  try {
    const netns = await lab.netns();
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, new URL(entry).pathname], { stdio: 'inherit', env: { ...process.env, [INSIDE]: '1' } });
    const code = await new Promise<number>((done) => child.once('exit', (status) => { done(status ?? 1); }));
    if (code !== 0) process.exitCode = code;
  } finally {
    await lab.cleanup();
  }
}

async function inside(body: (host: PrivateHost) => Promise<void>): Promise<void> {
  const lab = new Lab();
  try {
    await run(['ip', 'link', 'set', 'lo', 'up']);
    const ovs = await PrivateOvsdbServer.create(lab, { withVswitchd: true });
    const vsctl = (...args: string[]): Promise<string> => run(['ovs-vsctl', `--db=unix:${ovs.socket}`, '--timeout=300', ...args], { timeoutMs: 310_000 });
    const bridges = new Set<string>();
    lab.defer('private bridges', async () => { for (const name of bridges) await vsctl('--if-exists', 'del-br', name); });
    await body({
      lab, ovs, vsctl,
      freshBridge: async (name) => {
        bridges.add(name);
        await vsctl('--if-exists', 'del-br', name);
        await vsctl('add-br', name, '--', 'set', 'bridge', name, 'datapath_type=netdev');
      },
    });
  } finally {
    await lab.cleanup();
  }
}
