// NIC hot-plug and hot-unplug with real guests: `vifctl attach` plugs a VIF
// the guest sees (serial log) and answers ping on its VLAN, in the live and the
// persistent definition; `vifctl detach` removes TAP and port once the guest
// has released the NIC; an 8th VIF is refused and leaves nothing behind.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { DaemonProcess } from '../../harness/daemon.js';
import { vifctlCommand } from '../../harness/programs.js';
import { run, tryRun } from '../../harness/exec.js';
import { GUEST_READY, nicUpLine } from '../../harness/guest.js';
import { Lab } from '../../harness/lab.js';
import type { Probe } from '../../harness/lab.js';
import { linkExists, pingUntilReply } from '../../harness/net.js';
import { portsOf } from '../../harness/ovs.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { defineVifdGuest, eventually, startDomain } from '../../harness/vifd-guest.js';

const vifctl = (...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  tryRun([...vifctlCommand(), ...args], { timeoutMs: 180_000 });
const dumpxml = (uuid: string, inactive: boolean): Promise<string> =>
  run(['virsh', '-q', '-c', 'qemu:///system', 'dumpxml', ...(inactive ? ['--inactive'] : []), uuid]);

describe('e2e: NIC hot-plug and hot-unplug through vifd', function () {
  this.timeout(600_000);
  const lab = new Lab();
  let bridge: string;
  let daemon: DaemonProcess;
  let probeBlue: Probe;

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping', 'vifd-hook']);
    bridge = await lab.bridge();
    probeBlue = await lab.probe(bridge, '203.0.113.1/24', { tag: 200 });
    daemon = await DaemonProcess.start(lab, { networks: { red: { bridge, vlan: 100 }, blue: { bridge, vlan: 200 } } });
  });

  after(() => lab.cleanup());

  it('attaches a VIF the guest configures and that answers on its VLAN, then detaches it without a leak', async () => {
    const guest = await defineVifdGuest(lab, daemon, [{ network: 'red', cidr: '198.51.100.40/24' }],
      { laterNics: [{ network: 'blue', cidr: '203.0.113.40/24' }] });
    assert.equal((await startDomain(guest.uuid)).code, 0);
    await guest.waitFor(GUEST_READY);
    const [mac0, mac1] = guest.macs;
    const [, device1] = guest.devices;
    assert.ok(mac0 !== undefined && mac1 !== undefined && device1 !== undefined);
    await guest.waitFor(nicUpLine(mac0));

    const attached = await vifctl('attach', guest.name, '--network', 'blue', '--json');
    assert.equal(attached.code, 0, attached.stdout + attached.stderr);
    assert.deepEqual(JSON.parse(attached.stdout), {
      ok: true, domain: guest.name, uuid: guest.uuid, index: 1, device: device1, mac: mac1, bridge, vlan: 'access 200', persistent: true,
    });
    await guest.waitFor(nicUpLine(mac1), 60_000);
    assert.ok(await pingUntilReply(probeBlue.netns, '203.0.113.40', 20_000), 'the hot-plugged VIF does not answer on VLAN 200');
    for (const inactive of [false, true]) {
      const xml = await dumpxml(guest.uuid, inactive);
      assert.match(xml, new RegExp(`<target dev='${device1}' managed='no'/>`), `interface in the ${inactive ? 'persistent' : 'live'} definition`);
      assert.match(xml, /<vifd:vif index="1" network="blue"\/>/, `intent in the ${inactive ? 'persistent' : 'live'} definition`);
    }
    const status = JSON.parse(await run([...vifctlCommand(), 'status', '--json'])) as { vifs: { device: string; state: string }[] };
    assert.equal(status.vifs.find((vif) => vif.device === device1)?.state, 'ok');

    const detached = await vifctl('detach', guest.name, '--index', '1', '--json');
    assert.equal(detached.code, 0, detached.stdout + detached.stderr);
    const state = (JSON.parse(detached.stdout) as { state: string }).state;
    assert.ok(state === 'removed' || state === 'pending', state);
    await eventually('TAP and port of VIF 1 to be removed', async () => !(await linkExists(device1)) && !(await portsOf(bridge)).includes(device1), 60_000);
    await guest.waitFor(new RegExp(`vifd-guest: nic \\S+ mac ${mac1} .*gone`), 30_000);
    assert.doesNotMatch(await dumpxml(guest.uuid, true), new RegExp(device1), 'the persistent definition still has VIF 1');
    assert.ok(await linkExists(guest.devices[0] ?? ''), 'VIF 0 must stay');
  });

  it('refuses an 8th VIF at hot-plug and leaves nothing behind', async () => {
    const nics = Array.from({ length: 7 }, (_, n) => ({ network: 'red', cidr: `198.51.100.${50 + n}/24` }));
    const guest = await defineVifdGuest(lab, daemon, nics, { laterNics: [{ network: 'red', cidr: '198.51.100.57/24' }] });
    assert.equal((await startDomain(guest.uuid)).code, 0);
    const refused = await vifctl('attach', guest.uuid, '--network', 'red');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /vifctl attach: VM "[^"]+": asks for 8 VIFs; the limit is 7/);
    assert.equal(await linkExists(guest.devices[7] ?? ''), false);
    assert.doesNotMatch(await dumpxml(guest.uuid, false), /index="7"/);
  });

  it('refuses an unknown network and a VM that is not running, naming them', async () => {
    const guest = await defineVifdGuest(lab, daemon, [{ network: 'red', cidr: '198.51.100.60/24' }]);
    const stopped = await vifctl('attach', guest.name, '--network', 'red');
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /VM "[^"]+": is not running; hot-plug needs a running VM/);
    assert.equal((await startDomain(guest.uuid)).code, 0);
    const unknown = await vifctl('attach', guest.name, '--network', 'nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /VM "[^"]+" VIF 1: network: network "nope" is not defined on this host \(known: blue, red\)/);
    assert.equal(await linkExists(guest.devices[0]?.replace(/-0$/, '-1') ?? ''), false);
    const missing = await vifctl('detach', guest.name, '--index', '5');
    assert.match(missing.stderr, /no vifd VIF with index 5 \(it has: 0 \(/);
    const noDomain = await vifctl('attach', 'no-such-vm-here', '--network', 'red');
    assert.match(noDomain.stderr, /no domain "no-such-vm-here" on this host/);
  });

  it('picks up a VIF another tool attaches (virsh metadata, then virsh attach-device) and one it detaches', async () => {
    const guest = await defineVifdGuest(lab, daemon, [{ network: 'red', cidr: '198.51.100.80/24' }],
      { laterNics: [{ network: 'blue', cidr: '203.0.113.80/24' }] });
    assert.equal((await startDomain(guest.uuid)).code, 0);
    await guest.waitFor(GUEST_READY);
    const [, mac1] = guest.macs;
    const [, device1] = guest.devices;
    assert.ok(mac1 !== undefined && device1 !== undefined);
    const virsh = (...args: string[]): Promise<string> => run(['virsh', '-q', '-c', 'qemu:///system', ...args], { timeoutMs: 60_000 });
    await virsh('metadata', guest.uuid, 'https://vifd.dev/xmlns/vifd/1', '--key', 'vifd', '--live',
      '--set', '<vifd><vif index="0" network="red"/><vif index="1" network="blue"/></vifd>');
    await eventually('vifd to plug VIF 1 ahead of the attach', () => linkExists(device1));
    const device = lab.scratchPath(`${guest.name}-vif1.xml`);
    writeFileSync(device, `<interface type='ethernet'><mac address='${mac1}'/><target dev='${device1}' managed='no'/><model type='virtio'/></interface>`);
    await virsh('attach-device', guest.uuid, device, '--live');
    await guest.waitFor(nicUpLine(mac1), 60_000);
    assert.ok(await pingUntilReply(probeBlue.netns, '203.0.113.80', 20_000), 'the VIF attached with virsh does not answer on VLAN 200');
    assert.equal((await portsOf(bridge)).includes(device1), true);
    await virsh('detach-device', guest.uuid, device, '--live');
    await eventually('TAP and port of the VIF detached with virsh to go', async () => !(await linkExists(device1)) && !(await portsOf(bridge)).includes(device1), 60_000);
    await eventually('its entry to leave the live intent', async () => !(await dumpxml(guest.uuid, false)).includes('index="1"'));
  });
});
