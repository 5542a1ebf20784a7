// The daemon under concurrent load and hostile input, with real libvirtd,
// QEMU and Open vSwitch: 20 VMs started and destroyed at once leave nothing
// behind; names with quotes, `$(..)`, tabs and 240 characters, metadata with
// newlines, and bytes that are not UTF-8 are refused or handled, never run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonProcess } from '../../harness/daemon.js';
import { hookProgramCommand, vifctlCommand } from '../../harness/programs.js';
import { run, tryRun } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { linkExists } from '../../harness/net.js';
import { portsOf } from '../../harness/ovs.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { defineVifdGuest, destroyDomain, eventually, startDomain } from '../../harness/vifd-guest.js';

/** A file the hostile name would create if any shell ever ran it (relative: '/' is not allowed in libvirt names). */
const PWNED = 'vifd-e2e-pwned';

interface StatusRow { uuid: string | null; domain: string | null; device: string; mac: string | null; state: string }

async function status(): Promise<StatusRow[]> {
  return (JSON.parse(await run([...vifctlCommand(), 'status', '--json'])) as { vifs: StatusRow[] }).vifs;
}

/** Runs the hook program as libvirt would, with raw bytes on stdin. */
function hook(args: readonly string[], stdin: Buffer): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [node = '', ...hook] = hookProgramCommand();
    const child = spawn(node, [...hook, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code, stderr }); });
    child.stdin.end(stdin);
  });
}

describe('e2e: vifd daemon under concurrency and hostile input', function () {
  this.timeout(900_000);
  const lab = new Lab();
  let bridge: string;
  let daemon: DaemonProcess;

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'vifd-hook']);
    bridge = await lab.bridge();
    daemon = await DaemonProcess.start(lab, { networks: { red: { bridge, vlan: 100 }, blue: { bridge, vlan: 200 } } });
  });

  after(() => lab.cleanup());

  it('starts and destroys 20 VMs at once (40 VIFs) with every VIF plugged, distinct MACs, and no leak', async () => {
    const guests = await Promise.all(Array.from({ length: 20 }, (_, n) =>
      defineVifdGuest(lab, daemon, [{ network: 'red', cidr: `198.51.100.${n + 20}/24` }, { network: 'blue', cidr: `203.0.113.${n + 20}/24` }])));
    const started = await Promise.all(guests.map((guest) => startDomain(guest.uuid)));
    started.forEach((result, n) => { assert.equal(result.code, 0, `VM ${n}: ${result.stderr}`); });
    const devices = guests.flatMap((guest) => guest.devices);
    const ports = new Set(await portsOf(bridge));
    assert.deepEqual(devices.filter((device) => !ports.has(device)), [], 'VIFs without a port');
    const rows = (await status()).filter((row) => guests.some((guest) => guest.uuid === row.uuid));
    assert.equal(rows.length, 40);
    assert.deepEqual(rows.filter((row) => row.state !== 'ok').map((row) => `${row.device}: ${row.state}`), []);
    assert.equal(new Set(rows.map((row) => row.mac)).size, 40, 'MACs must be distinct');
    const destroyed = await Promise.all(guests.map((guest) => destroyDomain(guest.uuid)));
    destroyed.forEach((result, n) => { assert.equal(result.code, 0, `VM ${n}: ${result.stderr}`); });
    await eventually('all 40 VIFs to be removed', async () => {
      const left = new Set(await portsOf(bridge));
      if (devices.some((device) => left.has(device))) return false;
      for (const device of devices) if (await linkExists(device)) return false;
      return true;
    }, 60_000);
    assert.deepEqual((await status()).filter((row) => guests.some((guest) => guest.uuid === row.uuid)), []);
  });

  it('plugs a VM whose name holds quotes, $(..), backticks, a tab and non-ASCII, and runs none of it', async () => {
    const name = `q"uo'te $(touch ${PWNED}) \`touch ${PWNED}\`;\tünï ${Date.now()}`;
    const guest = await defineVifdGuest(lab, daemon, [{ network: 'red', cidr: '198.51.100.90/24' }], { name });
    const started = await startDomain(guest.uuid);
    assert.equal(started.code, 0, started.stderr);
    const row = (await status()).find((candidate) => candidate.uuid === guest.uuid);
    assert.equal(row?.domain, name);
    assert.equal(row.state, 'ok');
    await destroyDomain(guest.uuid);
    await eventually('the VIF to be removed', async () => !(await linkExists(guest.devices[0] ?? '')));
    for (const dir of ['/', process.cwd(), '/var/lib/libvirt']) assert.equal(existsSync(join(dir, PWNED)), false, `a VM name was run as a command (${dir})`);
    const lines = daemon.log.split('\n').filter((line) => line !== '');
    assert.deepEqual(lines.filter((line) => !/^\d{4}-\d\d-\d\dT[\d:.]+Z (error|warn|info|debug) /.test(line)), [], 'every log line is one whole event');
  });

  it('plugs a VM with a 240-character name (libvirt keeps it in a file name, so not much more)', async () => {
    const name = `${'n'.repeat(226)}${Date.now()}`;
    const guest = await defineVifdGuest(lab, daemon, [{ network: 'blue', cidr: '203.0.113.91/24' }], { name });
    assert.equal((await startDomain(guest.uuid)).code, 0);
    assert.equal((await status()).find((row) => row.uuid === guest.uuid)?.domain, name);
    await destroyDomain(guest.uuid);
  });

  it('refuses metadata with a newline in the network name, on one line, at define and at prepare', async () => {
    const guest = await defineVifdGuest(lab, daemon, [{ network: 'red', cidr: '198.51.100.92/24' }]);
    const xml = (await run(['virsh', '-q', '-c', 'qemu:///system', 'dumpxml', '--inactive', guest.uuid]))
      .replace('<vifd:vif network="red"/>', '<vifd:vif network="red&#10;$(reboot)"/>');
    const reason = /VM "[^"]+" VIF 0: network: network "red\\n\$\(reboot\)" is not defined on this host \(known: blue, red\)/;
    const result = await hook(['qemu', guest.name, 'prepare', 'begin', '-'], Buffer.from(xml));
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^vifd: refused: ${reason.source}\n$`));
    const path = lab.scratchPath('newline.xml');
    writeFileSync(path, xml);
    const defined = await tryRun([...vifctlCommand(), 'define', path, '--config', daemon.configPath, '--print']);
    assert.equal(defined.code, 1);
    assert.match(defined.stdout, new RegExp(`^refused: ${reason.source}\n$`));
  });

  it('refuses bytes that are not UTF-8 and a name with a newline, and keeps serving', async () => {
    const garbage = Buffer.concat([Buffer.from('<domain><name>bad\xff\xfe</name><uuid>'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('</uuid></domain>')]);
    const refused = await hook(['qemu', 'bad\nname', 'prepare', 'begin', '-'], garbage);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.split('\n').length, 2, `one line expected: ${JSON.stringify(refused.stderr)}`);
    assert.match(refused.stderr, /^vifd: refused: /);
    const newline = `<domain type='kvm'><name>two&#10;lines</name><uuid>0d9c5e4a-1f2b-4c3d-8e7f-9a0b1c2d3e4f</uuid>` +
      `<metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1"><vifd:vif network="red"/></vifd:vifd></metadata><devices/></domain>`;
    const second = await hook(['qemu', 'two\nlines', 'prepare', 'begin', '-'], Buffer.from(newline));
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^vifd: refused: VM "two\\nlines": VIF 0: no <interface> with target dev '[^']+' \(define the VM with vifctl so it is rendered\)\n$/);
    assert.deepEqual(await daemon.call('ping'), { ok: true });
    const released = await tryRun([...hookProgramCommand(), 'qemu', 'x', 'release', 'end', '-'], { input: 'not xml at all' });
    assert.equal(released.code, 0, 'a release is never refused');
  });
});
