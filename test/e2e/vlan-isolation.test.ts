// The substrate proof: real guests on TAPs on an OVS bridge, VLAN access tags
// 100 and 200, and a probe namespace. Same VLAN reaches, the other does not.
// The probe is then moved to VLAN 200, so the "does not reach" result is
// checked against a guest shown to be alive, not a guest that never booted.
import assert from 'node:assert/strict';
import { Lab } from '../harness/lab.js';
import type { Guest, Probe } from '../harness/lab.js';
import { pingFrom, pingUntilReply } from '../harness/net.js';
import { run } from '../harness/exec.js';
import { setPortTag } from '../harness/ovs.js';
import { requirePrerequisites } from '../harness/prereq.js';

const GUEST_100 = { mac: '52:54:00:7e:01:00', address: '198.51.100.11', cidr: '198.51.100.11/24' };
const GUEST_200 = { mac: '52:54:00:7e:02:00', address: '198.51.100.12', cidr: '198.51.100.12/24' };
const PROBE_CIDR = '198.51.100.1/24';
const REACH_DEADLINE_MS = 15_000;

describe('e2e: VLAN isolation between guests on one OVS bridge', function () {
  this.timeout(300_000);
  const lab = new Lab();
  let probe: Probe;
  let guests: Guest[] = [];

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping']);
    const bridge = await lab.bridge();
    const tap100 = await lab.tap();
    const tap200 = await lab.tap();
    await lab.port(bridge, tap100, { tag: 100 });
    await lab.port(bridge, tap200, { tag: 200 });
    probe = await lab.probe(bridge, PROBE_CIDR, { tag: 100 });
    guests = await Promise.all([
      lab.guest([{ tap: tap100, mac: GUEST_100.mac, cidr: GUEST_100.cidr }]),
      lab.guest([{ tap: tap200, mac: GUEST_200.mac, cidr: GUEST_200.cidr }]),
    ]);
  });

  after(() => lab.cleanup());

  it('boots both guests and each reports its NIC configured', () => {
    assert.equal(guests.length, 2);
  });

  it('a probe on VLAN 100 reaches the guest on VLAN 100', async () => {
    assert.ok(await pingUntilReply(probe.netns, GUEST_100.address, REACH_DEADLINE_MS),
      `no ping reply from ${GUEST_100.address} (VLAN 100) within ${REACH_DEADLINE_MS} ms`);
  });

  it('the same probe does not reach the guest on VLAN 200', async () => {
    assert.equal(await pingFrom(probe.netns, GUEST_200.address, { count: 3 }), false,
      `${GUEST_200.address} on VLAN 200 answered a probe on VLAN 100`);
  });

  it('moved to VLAN 200, the probe reaches the VLAN 200 guest and no longer the VLAN 100 guest', async () => {
    await setPortTag(probe.port, 200);
    await run(['ip', '-n', probe.netns, 'neigh', 'flush', 'all']);
    assert.ok(await pingUntilReply(probe.netns, GUEST_200.address, REACH_DEADLINE_MS),
      `no ping reply from ${GUEST_200.address} (VLAN 200) within ${REACH_DEADLINE_MS} ms`);
    assert.equal(await pingFrom(probe.netns, GUEST_100.address, { count: 3 }), false,
      `${GUEST_100.address} on VLAN 100 answered a probe on VLAN 200`);
  });
});
