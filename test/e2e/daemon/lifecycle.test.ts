// The daemon with real libvirtd, QEMU guests, Open vSwitch and packets: VMs
// defined with vifctl start through the installed hook with their VIFs on
// their VLANs; stop, destroy and crash remove them; an 8th VIF is refused;
// drift is repaired; orphans left while vifd was SIGKILLed are removed when it
// starts again; a libvirtd restart is survived.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { deviceName } from '../../../src/model/names.js';
import { DaemonProcess } from '../../harness/daemon.js';
import { vifctlCommand } from '../../harness/programs.js';
import { run } from '../../harness/exec.js';
import { removeDomain } from '../../harness/libvirt.js';
import { uniqueName } from '../../harness/names.js';
import { Lab } from '../../harness/lab.js';
import type { Probe } from '../../harness/lab.js';
import { linkExists, pingUntilReply } from '../../harness/net.js';
import { portsOf } from '../../harness/ovs.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { GUEST_READY, nicUpLine } from '../../harness/guest.js';
import { defineVifdGuest, destroyDomain, eventually, startDomain, vifdGuestXml } from '../../harness/vifd-guest.js';
import type { VifdGuest } from '../../harness/vifd-guest.js';

interface StatusRow { uuid: string | null; index: number | null; device: string; mac: string | null; bridge: string | null; tag: number | null; state: string; network: string | null }

async function vifctlStatus(): Promise<StatusRow[]> {
  const out = await run([...vifctlCommand(), 'status', '--json']);
  return (JSON.parse(out) as { vifs: StatusRow[] }).vifs;
}

async function portTag(port: string): Promise<string> {
  return (await run(['ovs-vsctl', 'get', 'port', port, 'tag'])).trim();
}

describe('e2e: vifd daemon with libvirt guests', function () {
  this.timeout(600_000);
  const lab = new Lab();
  let bridge: string;
  let daemon: DaemonProcess;
  let probeRed: Probe;
  let probeBlue: Probe;
  let serial = 10;
  const nextAddress = (): number => ++serial;

  async function bootGuest(nics: { network: string; cidr: string }[]): Promise<VifdGuest> {
    const guest = await defineVifdGuest(lab, daemon, nics);
    const started = await startDomain(guest.uuid);
    assert.equal(started.code, 0, `virsh start: ${started.stderr}`);
    await guest.waitFor(GUEST_READY);
    for (const mac of guest.macs) await guest.waitFor(nicUpLine(mac));
    return guest;
  }

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping', 'vifd-hook']);
    bridge = await lab.bridge();
    probeRed = await lab.probe(bridge, '198.51.100.1/24', { tag: 100 });
    probeBlue = await lab.probe(bridge, '203.0.113.1/24', { tag: 200 });
    daemon = await DaemonProcess.start(lab, { networks: { red: { bridge, vlan: 100 }, blue: { bridge, vlan: 200 } } });
  });

  after(() => lab.cleanup());

  it('starts a VM defined with vifctl with its VIFs plugged before QEMU opens them, answering on both VLANs', async () => {
    const red = `198.51.100.${nextAddress()}`;
    const blue = `203.0.113.${nextAddress()}`;
    const guest = await bootGuest([{ network: 'red', cidr: `${red}/24` }, { network: 'blue', cidr: `${blue}/24` }]);
    assert.ok(await pingUntilReply(probeRed.netns, red, 20_000), `no reply from ${red} on VLAN 100`);
    assert.ok(await pingUntilReply(probeBlue.netns, blue, 20_000), `no reply from ${blue} on VLAN 200`);
    // Metrics: OVS counts the pings on the VIF (statistics are refreshed every few seconds).
    await eventually('rx packets of VIF 0 in the metrics', async () => {
      const text = await (await fetch(daemon.metricsUrl)).text();
      const sample = new RegExp(`^vifd_vif_packets_total\\{vm_uuid="${guest.uuid}",vif="0",network="[^"]+",direction="tx"\\} (\\d+)$`, 'm').exec(text);
      return /^vifd_vifs\{state="ok"\} [1-9]/m.test(text) && /^vifd_plug_duration_seconds_count\{outcome="ok"\} [1-9]/m.test(text) && Number(sample?.[1] ?? 0) > 0;
    }, 30_000);
    assert.equal(await portTag(guest.devices[0] ?? ''), '100');
    assert.equal(await portTag(guest.devices[1] ?? ''), '200');
    const rows = (await vifctlStatus()).filter((row) => row.uuid === guest.uuid);
    assert.deepEqual(rows.map((row) => [row.index, row.device, row.mac, row.bridge, row.tag, row.network, row.state]), [
      [0, guest.devices[0], guest.macs[0], bridge, 100, 'red', 'ok'],
      [1, guest.devices[1], guest.macs[1], bridge, 200, 'blue', 'ok'],
    ]);
    await destroyDomain(guest.uuid);
    await eventually('the VIFs to be removed after destroy', async () =>
      !(await portsOf(bridge)).some((port) => guest.devices.includes(port)) && !(await linkExists(guest.devices[0] ?? '')));
  });

  it('refuses an 8th VIF at define, and at start for a definition made around vifctl', async () => {
    const nics = Array.from({ length: 8 }, () => ({ network: 'red', cidr: '198.51.100.200/24' }));
    await assert.rejects(defineVifdGuest(lab, daemon, nics), /refused: VM "[^"]+": asks for 8 VIFs; the limit is 7/);
    // Rendered under a laxer config and defined with virsh: the daemon warns, libvirt's prepare hook refuses.
    const lax = lab.scratchPath('lax.json');
    writeFileSync(lax, JSON.stringify({ ...JSON.parse(readFileSync(daemon.configPath, 'utf8')) as object, vif_limit: { default: 16, max: 16 } }));
    const uuid = randomUUID();
    const name = uniqueName('domain');
    const source = lab.scratchPath(`${name}.xml`);
    writeFileSync(source, vifdGuestXml({ name, uuid, nics, domainType: await lab.guestDomainType(), serialLog: lab.scratchPath(`${name}.log`) }));
    const rendered = lab.scratchPath(`${name}.rendered.xml`);
    writeFileSync(rendered, await run([...vifctlCommand(), 'define', source, '--config', lax, '--print']));
    lab.defer(`domain ${name}`, () => removeDomain(uuid));
    await run(['virsh', '-q', '-c', 'qemu:///system', 'define', rendered]);
    await daemon.waitForLog(/asks for 8 VIFs; the limit is 7 .*defined outside vifctl/);
    const started = await startDomain(uuid);
    assert.notEqual(started.code, 0, 'a VM with 8 VIFs started');
    assert.match(started.stderr, /vifd: refused: VM "[^"]+": asks for 8 VIFs; the limit is 7/);
    for (let index = 0; index < 8; index++) {
      assert.equal(await linkExists(deviceName(uuid, index)), false, `VIF ${index} left behind by a refused start`);
    }
  });

  it('removes the VIFs of a VM whose QEMU was killed', async () => {
    const guest = await bootGuest([{ network: 'red', cidr: `198.51.100.${nextAddress()}/24` }]);
    const pid = Number(readFileSync(`/run/libvirt/qemu/${guest.name}.pid`, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await eventually('the crashed VM\'s VIF to be removed', async () =>
      !(await linkExists(guest.devices[0] ?? '')) && !(await portsOf(bridge)).includes(guest.devices[0] ?? ''), 30_000);
  });

  it('repairs drift: a port that lost its tag, a TAP deleted under a running VM (NIC re-plugged, traffic back)', async () => {
    const address = `198.51.100.${nextAddress()}`;
    const guest = await bootGuest([{ network: 'red', cidr: `${address}/24` }]);
    const device = guest.devices[0] ?? '';
    const mac = guest.macs[0] ?? '';
    await run(['ovs-vsctl', 'clear', 'port', device, 'tag']);
    await eventually('the tag to be restored', async () => (await portTag(device)) === '100');
    await run(['ip', 'link', 'del', 'dev', device]);
    await eventually('the TAP to be recreated', () => linkExists(device));
    // QEMU held the deleted TAP: only a re-plug brings traffic back. The guest sees the NIC go and come back.
    await guest.waitFor(new RegExp(`vifd-guest: nic \\S+ mac ${mac} gone`), 60_000);
    await eventually('the guest to bring the re-plugged NIC up', () =>
      readFileSync(guest.serialLog, 'utf8').split('\n').filter((line) => nicUpLine(mac).test(line)).length >= 2, 60_000);
    await run(['ip', '-n', probeRed.netns, 'neigh', 'flush', 'all']);
    assert.ok(await pingUntilReply(probeRed.netns, address, 20_000), 'no traffic through the recreated TAP');
    await eventually('status to be ok again', async () => (await vifctlStatus()).find((row) => row.device === device)?.state === 'ok');
    await destroyDomain(guest.uuid);
  });

  it('removes orphans left while vifd was SIGKILLed, when it starts again', async () => {
    const guest = await bootGuest([{ network: 'blue', cidr: `203.0.113.${nextAddress()}/24` }]);
    await daemon.kill();
    const destroyed = await destroyDomain(guest.uuid);
    assert.equal(destroyed.code, 0, destroyed.stderr);
    assert.ok(await linkExists(guest.devices[0] ?? ''), 'with vifd down, nothing removes the TAP');
    // Fail closed: with no daemon, a VM whose VIFs vifd manages does not start half-plugged.
    const other = await defineVifdGuest(lab, daemon, [{ network: 'red', cidr: `198.51.100.${nextAddress()}/24` }]);
    const refused = await startDomain(other.uuid);
    assert.notEqual(refused.code, 0, 'a vifd VM started while vifd was down');
    assert.match(refused.stderr, /vifd: refusing to start VM "[^"]+": its VIFs are managed by vifd, which is not running/);
    await daemon.launch();
    await eventually('the orphan to be removed at start', async () =>
      !(await linkExists(guest.devices[0] ?? '')) && !(await portsOf(bridge)).includes(guest.devices[0] ?? ''));
  });

  it('survives a libvirtd restart: VIFs kept, events flow again', async () => {
    const guest = await bootGuest([{ network: 'red', cidr: `198.51.100.${nextAddress()}/24` }]);
    await run(['pkill', '-x', 'libvirtd']);
    await run(['scripts/host-setup.sh'], { timeoutMs: 120_000 });
    await daemon.waitForLog(/reconciled \(libvirtd reconnected\)/, 60_000);
    assert.equal((await vifctlStatus()).find((row) => row.device === guest.devices[0])?.state, 'ok');
    await destroyDomain(guest.uuid);
    await eventually('the VIF to be removed after the restart', async () => !(await linkExists(guest.devices[0] ?? '')), 30_000);
    // The hook removed it; the event shows vifd's subscription came back with the connection.
    await daemon.waitForLog(new RegExp(`event stopped/destroyed for VM "${guest.name}"`));
  });

  it('survives an ovsdb-server restart: a full reconcile repairs what changed while it was away', async () => {
    const guest = await bootGuest([{ network: 'blue', cidr: `203.0.113.${nextAddress()}/24` }]);
    const device = guest.devices[0] ?? '';
    await run(['ovs-appctl', '-t', 'ovsdb-server', 'exit']);
    // While the server is away, the port loses its tag in the database file itself.
    await run(['ovsdb-tool', 'transact', '/etc/openvswitch/conf.db', JSON.stringify(['Open_vSwitch',
      { op: 'update', table: 'Port', where: [['name', '==', device]], row: { tag: ['set', []] } }])]);
    await run(['scripts/host-setup.sh'], { timeoutMs: 120_000 }); // starts it again, as on a fresh host
    await daemon.waitForLog(/reconciled \(ovsdb-server reconnected\)/, 60_000);
    await eventually('the tag to be restored', async () => (await portTag(device)) === '200');
    assert.equal((await vifctlStatus()).find((row) => row.device === device)?.state, 'ok');
    await destroyDomain(guest.uuid);
    await eventually('the VIF to be removed', async () => !(await linkExists(device)) && !(await portsOf(bridge)).includes(device));
  });

  it('lets a VM without vifd intent start on its own TAP while vifd runs', async () => {
    const tap = await lab.tap();
    await lab.port(bridge, tap, { tag: 100 });
    const address = `198.51.100.${nextAddress()}`;
    await lab.guest([{ tap, mac: '52:54:00:7e:0a:01', cidr: `${address}/24` }]);
    assert.ok(await pingUntilReply(probeRed.netns, address, 20_000), `no reply from ${address}`);
    assert.equal((await vifctlStatus()).some((row) => row.device === tap), false, 'vifd took a TAP it does not own');
  });
});
