// Live migration between two hosts on one machine (test/harness/second-host.ts),
// each with its own libvirtd, Open vSwitch and vifd: the destination plugs the
// VIFs at libvirt's prepare before the incoming QEMU opens them, from its own
// config; the source removes them once the VM has left; a probe on the VLAN
// keeps getting answers. A migration the destination refuses, and one
// cancelled midway, leave the source untouched and the destination clean.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { DaemonProcess } from '../../harness/daemon.js';
import { vifctlCommand } from '../../harness/programs.js';
import { run, tryRun } from '../../harness/exec.js';
import { GUEST_READY, nicUpLine } from '../../harness/guest.js';
import { Lab } from '../../harness/lab.js';
import type { Probe } from '../../harness/lab.js';
import { linkExists, pingUntilReply } from '../../harness/net.js';
import { portsOf } from '../../harness/ovs.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { MGMT_B, SecondHost } from '../../harness/second-host.js';
import { defineVifdGuest, eventually, startDomain } from '../../harness/vifd-guest.js';
import type { VifdGuest } from '../../harness/vifd-guest.js';

const virshA = (...args: string[]): string[] => ['virsh', '-q', '-c', 'qemu:///system', ...args];
const migrate = (uuid: string, ...extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  tryRun(virshA('migrate', '--live', '--persistent', '--undefinesource', ...extra, uuid, `qemu+tcp://${MGMT_B}/system`, `tcp://${MGMT_B}`), { timeoutMs: 300_000 });

/** Pings every 100 ms until stopped; resolves with sent and received counts. */
function pingDuring(netns: string, address: string): { stop: () => Promise<{ sent: number; received: number }> } {
  const child = spawn('ip', ['netns', 'exec', netns, 'ping', '-n', '-i', '0.1', '-W', '1', address], { stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const closed = new Promise<void>((resolve) => { child.once('close', () => { resolve(); }); });
  return {
    stop: async () => {
      child.kill('SIGINT');
      await closed;
      const match = /(\d+) packets transmitted, (\d+) received/.exec(output);
      return { sent: Number(match?.[1] ?? 0), received: Number(match?.[2] ?? 0) };
    },
  };
}

describe('e2e: live migration between two hosts, each with its own vifd', function () {
  this.timeout(900_000);
  const lab = new Lab();
  let bridgeA: string;
  let hostB: SecondHost;
  let daemonA: DaemonProcess;
  let daemonB: DaemonProcess;
  let probe: Probe;

  const portsOnB = async (): Promise<string[]> =>
    (await hostB.exec(['ovs-vsctl', 'list-ports', hostB.bridge])).split('\n').filter((line) => line !== '');
  const linkOnB = async (device: string): Promise<boolean> => (await hostB.tryExec(['ip', 'link', 'show', 'dev', device])).code === 0;
  const domainOnB = async (uuid: string): Promise<boolean> => (await hostB.tryExec(['virsh', '-q', '-c', 'qemu:///system', 'domstate', uuid])).code === 0;

  async function bootOnA(network: string, address: string): Promise<VifdGuest> {
    const guest = await defineVifdGuest(lab, daemonA, [{ network, cidr: `${address}/24` }]);
    assert.equal((await startDomain(guest.uuid)).code, 0);
    await guest.waitFor(GUEST_READY);
    await guest.waitFor(nicUpLine(guest.macs[0] ?? ''));
    return guest;
  }

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping', 'vifd-hook']);
    bridgeA = await lab.bridge();
    probe = await lab.probe(bridgeA, '198.51.100.1/24', { tag: 100 });
    hostB = await SecondHost.create(lab, bridgeA);
    daemonA = await DaemonProcess.start(lab, { networks: { red: { bridge: bridgeA, vlan: 100 }, blue: { bridge: bridgeA, vlan: 200 } } });
    // Host B has red on its own bridge, and no blue at all.
    daemonB = await DaemonProcess.start(lab, { networks: { red: { bridge: hostB.bridge, vlan: 100 } } }, hostB.daemonHost());
  });

  after(() => lab.cleanup());

  it('migrates a running guest live: B plugs its VIF from its own config, A keeps no trace, pings keep coming', async () => {
    const guest = await bootOnA('red', '198.51.100.70');
    const device = guest.devices[0] ?? '';
    assert.ok(await pingUntilReply(probe.netns, '198.51.100.70', 20_000));
    const pinger = pingDuring(probe.netns, '198.51.100.70');
    let migrated: Awaited<ReturnType<typeof migrate>>;
    let pings = { sent: 0, received: 0 };
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      migrated = await migrate(guest.uuid);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      pings = await pinger.stop(); // a failed step must not leave ping running
    }
    assert.equal(migrated.code, 0, `virsh migrate: ${migrated.stderr}`);
    const { sent, received } = pings;
    console.log(`      pings during the migration: ${sent} sent, ${received} answered, ${sent - received} lost`);
    assert.ok(sent > 20 && received > 0, `ping during migration: ${sent} sent, ${received} received`);
    assert.ok(await pingUntilReply(probe.netns, '198.51.100.70', 10_000), 'the guest does not answer on host B');
    assert.ok(await linkOnB(device), `no TAP ${device} on host B`);
    assert.ok((await portsOnB()).includes(device), 'no port on host B\'s bridge');
    assert.equal((await hostB.exec(['ovs-vsctl', 'get', 'port', device, 'tag'])).trim(), '100');
    const statusB = JSON.parse(await run([...vifctlCommand(), 'status', '--json', '--socket', daemonB.socketPath])) as
      { vifs: { device: string; mac: string; state: string }[] };
    assert.deepEqual(statusB.vifs.filter((vif) => vif.device === device).map((vif) => [vif.mac, vif.state]), [[guest.macs[0], 'ok']]);
    await eventually('host A to keep no trace of the guest', async () =>
      !(await linkExists(device)) && !(await portsOf(bridgeA)).includes(device) && (await tryRun(virshA('domstate', guest.uuid))).code !== 0);
  });

  it('refuses a migration whose network host B does not have, leaving the source running and B clean', async () => {
    const guest = await bootOnA('blue', '198.51.100.71');
    const device = guest.devices[0] ?? '';
    const refused = await migrate(guest.uuid);
    assert.notEqual(refused.code, 0, 'migrated to a host without the network');
    assert.match(refused.stderr, /network "blue" is not defined on this host \(known: red\)/);
    assert.equal((await run(virshA('domstate', guest.uuid))).trim(), 'running');
    assert.ok(await linkExists(device) && (await portsOf(bridgeA)).includes(device), 'the source lost its VIF');
    await eventually('host B to be clean', async () => !(await linkOnB(device)) && !(await domainOnB(guest.uuid)));
  });

  it('leaves the source untouched and the destination clean when a migration is cancelled midway', async () => {
    const guest = await bootOnA('red', '198.51.100.72');
    const device = guest.devices[0] ?? '';
    // 1 MiB/s: 256 MiB of guest memory cannot move before the abort.
    const migration = migrate(guest.uuid, '--bandwidth', '1');
    await eventually('the migration to start on host B', () => domainOnB(guest.uuid), 60_000);
    await eventually('the VIF to be plugged on host B', () => linkOnB(device), 30_000);
    await run(virshA('domjobabort', guest.uuid));
    const result = await migration;
    assert.notEqual(result.code, 0, 'the migration was not cancelled');
    assert.equal((await run(virshA('domstate', guest.uuid))).trim(), 'running');
    assert.ok(await linkExists(device) && (await portsOf(bridgeA)).includes(device), 'the source lost its VIF');
    assert.ok(await pingUntilReply(probe.netns, '198.51.100.72', 20_000), 'the guest stopped answering on host A');
    await eventually('host B to be clean', async () => !(await linkOnB(device)) && !(await portsOnB()).includes(device) && !(await domainOnB(guest.uuid)), 30_000);
  });
});
