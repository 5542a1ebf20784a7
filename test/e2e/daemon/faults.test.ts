// Faults at the worst moments, with real libvirtd, QEMU, Open vSwitch and TAPs.
// vifd is killed (SIGKILL, as a crash: no cleanup) at each named step of a
// plug, a release and a GC (src/common/fault-points.ts), and ovsdb-server and
// libvirtd are killed while VMs start at once. After each, once things settle:
// every VM runs with all its VIFs or is stopped with none, no orphan TAP or
// port is left, and no device has two ports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DaemonProcess } from '../../harness/daemon.js';
import { run, tryRun } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { LIBVIRT_URI } from '../../harness/libvirt.js';
import { linkExists } from '../../harness/net.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { defineVifdGuest, destroyDomain, eventually, startDomain } from '../../harness/vifd-guest.js';
import type { VifdGuest } from '../../harness/vifd-guest.js';

const TAGS = ['100', '200'];

interface OwnedInterface { name: string; vmUuid: string | undefined }

/** Every Interface row vifd owns, on any bridge, with its VM. */
async function ownedInterfaces(): Promise<OwnedInterface[]> {
  const out = await run(['ovs-vsctl', '--format=json', '--columns=name,external_ids', 'list', 'Interface']);
  const table = JSON.parse(out) as { data: [string, ['map', [string, string][]]][] };
  return table.data.map(([name, [, ids]]) => ({ name, ids: new Map(ids) }))
    .filter((row) => row.ids.get('vifd:owner') === 'vifd').map((row) => ({ name: row.name, vmUuid: row.ids.get('vm-uuid') }));
}

const domainState = async (uuid: string): Promise<string> =>
  (await tryRun(['virsh', '-q', '-c', LIBVIRT_URI, 'domstate', uuid])).stdout.trim();

/** The invariant, or what breaks it (empty when it holds). */
async function violations(guests: readonly VifdGuest[]): Promise<string[]> {
  const problems: string[] = [];
  const owned = await ownedInterfaces();
  const names = owned.map((row) => row.name);
  for (const name of new Set(names)) if (names.filter((other) => other === name).length > 1) problems.push(`${name} has two interfaces`);
  const running = new Set<string>();
  for (const guest of guests) {
    const state = await domainState(guest.uuid);
    const alive = state === 'running' || state === 'paused';
    if (alive) running.add(guest.uuid);
    for (const [index, device] of guest.devices.entries()) {
      const tap = await linkExists(device);
      const port = names.includes(device);
      if (alive) {
        if (!tap || !port) problems.push(`${guest.name} is ${state} but VIF ${index} has ${tap ? '' : 'no TAP '}${port ? '' : 'no port'}`);
        else {
          const tag = (await run(['ovs-vsctl', 'get', 'port', device, 'tag'])).trim();
          if (tag !== TAGS[index]) problems.push(`${device} has tag ${tag}, want ${TAGS[index] ?? '?'}`);
          const alias = readFileSync(`/sys/class/net/${device}/ifalias`, 'utf8').trim();
          if (alias !== `vifd:${guest.uuid}/${index}`) problems.push(`${device} has ifalias ${JSON.stringify(alias)}`);
        }
      } else if (tap || port) {
        problems.push(`${guest.name} is ${state || 'undefined'} but ${device} still has ${tap ? 'a TAP ' : ''}${port ? 'a port' : ''}`);
      }
    }
  }
  const ours = new Set(guests.map((guest) => guest.uuid));
  for (const row of owned) if (row.vmUuid !== undefined && ours.has(row.vmUuid) && !running.has(row.vmUuid)) problems.push(`orphan port ${row.name}`);
  return problems;
}

describe('e2e: faults: vifd killed at each step, ovsdb-server and libvirtd killed during starts', function () {
  this.timeout(1_800_000);
  const lab = new Lab();
  let daemon: DaemonProcess;
  const all: VifdGuest[] = [];

  const newGuest = async (): Promise<VifdGuest> => {
    const guest = await defineVifdGuest(lab, daemon, [{ network: 'red', cidr: '198.51.100.90/24' }, { network: 'blue', cidr: '203.0.113.90/24' }]);
    all.push(guest);
    return guest;
  };
  const settled = async (what: string, guests: readonly VifdGuest[] = all): Promise<void> => {
    let last: string[] = [];
    await eventually(what, async () => { last = await violations(guests); return last.length === 0; }, 60_000)
      .catch((error: unknown) => { throw new Error(`${(error as Error).message}\n${last.join('\n')}\n${daemon.log.slice(-3000)}`); });
  };
  const started = async (guest: VifdGuest): Promise<void> => {
    const result = await startDomain(guest.uuid);
    assert.equal(result.code, 0, `virsh start ${guest.name}: ${result.stderr}`);
  };

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'vifd-hook']);
    const bridge = await lab.bridge();
    daemon = await DaemonProcess.start(lab, { networks: { red: { bridge, vlan: 100 }, blue: { bridge, vlan: 200 } } });
    await daemon.started();
  });

  after(() => lab.cleanup());

  for (const point of ['tap-created', 'tap-marked', 'tap-persisted', 'plug-taps-ready', 'plug-ports-applied'] as const) {
    it(`plug killed at ${point}: the refused start leaves nothing once vifd is back, and the next start and stop work`, async () => {
      const guest = await newGuest();
      await daemon.stop();
      await daemon.launch({ env: { VIFD_TEST_FAULT_POINT: point } });
      const attempt = startDomain(guest.uuid); // libvirt runs the hook; the daemon dies in its prepare
      assert.equal(await daemon.exit(), 'signal SIGKILL', `vifd did not die at ${point}`);
      const refused = await attempt; // the hook finds no daemon within its bound: the start is refused
      assert.notEqual(refused.code, 0, 'the VM started while vifd was down');
      await daemon.launch();
      await daemon.started();
      await settled(`after a crash at ${point}`); // the VM is stopped: nothing of it may be left
      await started(guest);
      await settled('after the start');
      assert.equal(await domainState(guest.uuid), 'running');
      await destroyDomain(guest.uuid);
      await settled('after destroy');
    });
  }

  it('a start in flight when vifd dies and is restarted at once ends with all VIFs or none', async () => {
    const guest = await newGuest();
    await daemon.stop();
    await daemon.launch({ env: { VIFD_TEST_FAULT_POINT: 'plug-ports-applied' } });
    const attempt = startDomain(guest.uuid);
    assert.equal(await daemon.exit(), 'signal SIGKILL');
    await daemon.launch(); // as systemd's Restart= would, while libvirt still waits on the hook
    const result = await attempt;
    await daemon.started();
    console.log(`      the start in flight ${result.code === 0 ? 'reached the restarted vifd' : `was refused: ${result.stderr.trim().split('\n').at(-1) ?? ''}`}`);
    await settled('after the restart');
    await destroyDomain(guest.uuid);
    await settled('after destroy');
  });

  for (const point of ['unplug-ports-removed', 'unplug-first-tap-deleted'] as const) {
    it(`release killed at ${point}: the stopped VM's VIFs are gone once vifd is back`, async () => {
      const guest = await newGuest();
      await started(guest);
      await settled('running');
      await daemon.stop();
      await daemon.launch({ env: { VIFD_TEST_FAULT_POINT: point } });
      await daemon.started();
      assert.equal((await destroyDomain(guest.uuid)).code, 0, 'a release never stops a VM from stopping');
      assert.equal(await daemon.exit(), 'signal SIGKILL', `vifd did not die at ${point}`);
      await daemon.launch();
      await daemon.started();
      await settled(`after a crash at ${point} in release`);
    });

    it(`GC killed at ${point}: orphans left by a crash are all gone after the next start`, async () => {
      const guest = await newGuest();
      await started(guest);
      await settled('running');
      await daemon.kill();
      await destroyDomain(guest.uuid); // with vifd down its TAPs and ports stay behind: orphans
      assert.ok(await linkExists(guest.devices[0] ?? ''), 'no orphan to collect');
      // Its start-up GC dies midway, possibly before the socket has answered anyone.
      await daemon.launch({ env: { VIFD_TEST_FAULT_POINT: point }, untilServing: false });
      assert.equal(await daemon.exit(), 'signal SIGKILL', `vifd did not die at ${point}`);
      await daemon.launch();
      await daemon.started();
      await settled(`after a crash at ${point} in GC`);
    });
  }

  const isAlive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  for (const service of ['ovsdb-server', 'libvirtd'] as const) {
    it(`${service} killed while four VMs start at once: each runs with all VIFs or is stopped with none`, async () => {
      const guests = await Promise.all([newGuest(), newGuest(), newGuest(), newGuest()]);
      const starts = Promise.all(guests.map((guest) => startDomain(guest.uuid)));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The host's own instance, by pid: a test's private ovsdb-server may run beside it.
      const pids = service === 'ovsdb-server'
        ? [Number(readFileSync('/var/run/openvswitch/ovsdb-server.pid', 'utf8').trim())]
        : (await tryRun(['pgrep', '-x', service])).stdout.split(/\s+/).filter((pid) => pid !== '').map(Number);
      if (service === 'ovsdb-server') await run(['ovs-appctl', '-t', 'ovsdb-server', 'exit']);
      else await run(['pkill', '-x', 'libvirtd']);
      // A new libvirtd cannot start until the old one has let go of its pid files.
      await eventually(`the old ${service} to exit`, () => Promise.resolve(pids.every((pid) => !isAlive(pid))), 60_000);
      await run(['scripts/host-setup.sh'], { timeoutMs: 180_000 }); // starts it again, as on a fresh host
      const results = await starts;
      console.log(`      ${service} killed: ${results.filter((result) => result.code === 0).length} of 4 starts succeeded`);
      await settled(`after ${service} came back`, guests);
      for (const guest of guests) await destroyDomain(guest.uuid);
      await settled('after destroying them', guests);
    });
  }
});
