// The test guest's contract (test/fixtures/guest/README.md): NICs named on the
// kernel command line are configured at boot and when hot-plugged later, an
// unknown NIC is reported as such, and an unplugged NIC is reported gone.
import assert from 'node:assert/strict';
import { Lab } from '../harness/lab.js';
import type { Guest, Probe } from '../harness/lab.js';
import { interfaceXml, nicUpLine } from '../harness/guest.js';
import { attachDeviceLive, detachDeviceLive } from '../harness/libvirt.js';
import { pingUntilReply } from '../harness/net.js';
import { requirePrerequisites } from '../harness/prereq.js';

const BOOT_NIC = { mac: '52:54:00:7e:10:01', cidr: '198.51.100.21/24' };
const LATER_NIC = { mac: '52:54:00:7e:10:02', cidr: '203.0.113.21/24', address: '203.0.113.21' };
const UNKNOWN_MAC = '52:54:00:7e:10:03';
const HOTPLUG_TIMEOUT_MS = 60_000;

describe('e2e: test guest configures hot-plugged NICs and reports them', function () {
  this.timeout(300_000);
  const lab = new Lab();
  let bridge: string;
  let guest: Guest;
  let probe: Probe;

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping']);
    bridge = await lab.bridge();
    const bootTap = await lab.tap();
    await lab.port(bridge, bootTap, { tag: 300 });
    probe = await lab.probe(bridge, '203.0.113.1/24', { tag: 301 });
    guest = await lab.guest([{ tap: bootTap, ...BOOT_NIC }], { laterNics: [LATER_NIC] });
  });

  after(() => lab.cleanup());

  it('configures a NIC hot-plugged after boot, which then answers ping', async () => {
    const tap = await lab.tap();
    await lab.port(bridge, tap, { tag: 301 });
    await attachDeviceLive(guest.name, guest.deviceFile(interfaceXml({ tap, mac: LATER_NIC.mac })));
    const line = await guest.waitFor(nicUpLine(LATER_NIC.mac), HOTPLUG_TIMEOUT_MS);
    assert.match(line, new RegExp(`addr ${LATER_NIC.cidr} up`));
    assert.ok(await pingUntilReply(probe.netns, LATER_NIC.address, 15_000), 'hot-plugged NIC does not answer ping');
  });

  it('reports a hot-plugged NIC whose MAC is not in its map as unconfigured', async () => {
    const tap = await lab.tap();
    await attachDeviceLive(guest.name, guest.deviceFile(interfaceXml({ tap, mac: UNKNOWN_MAC })));
    await guest.waitFor(new RegExp(`vifd-guest: nic \\S+ mac ${UNKNOWN_MAC} unconfigured`), HOTPLUG_TIMEOUT_MS);
  });

  it('reports a NIC unplugged from the running guest as gone', async () => {
    const line = await guest.waitFor(nicUpLine(LATER_NIC.mac));
    const ifname = /nic (\S+) mac/.exec(line)?.[1];
    assert.ok(ifname !== undefined);
    await detachDeviceLive(guest.name, guest.deviceFile(`<interface type='ethernet'><mac address='${LATER_NIC.mac}'/></interface>`));
    await guest.waitFor(new RegExp(`vifd-guest: nic ${ifname} mac ${LATER_NIC.mac} gone`), HOTPLUG_TIMEOUT_MS);
  });
});
