// Xen VIFs end to end, with real packets: a real vifd daemon, the host's Open
// vSwitch, the installed vif hotplug script run by the toolstack stand-in with
// libxl's and with xenopsd's exact argv and environment, and one TCG guest
// whose NICs are the very TAPs the stand-in created as netback would
// (vif<domid>.<devid>), as the domU's frontends. Probe namespaces on VLAN
// 100, 200 and 300 (veths with access tags) are the peers.
//
// Every guest NIC is on VLAN 100 and has its own subnet, so a probe on VLAN w
// gets an answer from a NIC's address only when that NIC's port is on w: the
// reply leaves by the NIC of its subnet, whichever NIC took the request.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DaemonProcess } from '../../harness/daemon.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import type { Probe } from '../../harness/lab.js';
import { uniqueName } from '../../harness/names.js';
import { pingFrom, pingUntilReply } from '../../harness/net.js';
import { deleteBridge } from '../../harness/ovs.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { requireXenScript } from '../../harness/xen/script.js';
import { SimXenStore } from '../../harness/xen/store.js';
import { createFakeBridge, xenPort } from '../../harness/xen/switch.js';
import { TapEndpoint } from '../../harness/xen/tap-endpoint.js';
import { XenToolstackStandIn, deviceName } from '../../harness/xen/toolstack.js';
import type { StandInDomain } from '../../harness/xen/toolstack.js';

const REACH_MS = 20_000;
const ACCESS = { mac: '00:16:3e:5a:00:01', address: '198.51.100.11', cidr: '198.51.100.11/24' };
const FAKE = { mac: '00:16:3e:5a:00:02', address: '203.0.113.11', cidr: '203.0.113.11/24' };
const TRUNK = { mac: '00:16:3e:5a:00:03', address: '192.0.2.50' };
/** The probes' addresses: one per subnet (access, fake bridge, trunk) on each VLAN. */
const PROBES = {
  100: ['198.51.100.1/24', '203.0.113.1/24', '192.0.2.1/24'],
  200: ['198.51.100.2/24', '203.0.113.2/24', '192.0.2.2/24'],
  300: ['192.0.2.3/24'],
} as const;
const VIF_UUID = randomUUID();
const NETWORK_UUID = randomUUID();

const up = (device: string): boolean => (Number.parseInt(readFileSync(`/sys/class/net/${device}/flags`, 'utf8'), 16) & 1) === 1;

describe('e2e: Xen VIFs plugged by the installed vif hotplug script carry their VLANs (one TCG guest on netback-named TAPs)', function () {
  this.timeout(240_000);
  const lab = new Lab();
  const probes = new Map<number, Probe>();
  let bridge: string;
  let fake100: string;
  let fake200: string;
  let store: SimXenStore;
  let standIn: XenToolstackStandIn;
  let libxl: StandInDomain;
  let xapi: StandInDomain;

  const addProbe = async (vlan: 100 | 200 | 300): Promise<void> => {
    const [first, ...more] = PROBES[vlan];
    const probe = await lab.probe(bridge, first, { tag: vlan });
    for (const cidr of more) await run(['ip', '-n', probe.netns, 'addr', 'add', cidr, 'dev', (await onlyLinkIn(probe.netns))]);
    probes.set(vlan, probe);
  };
  const probe = (vlan: number): string => probes.get(vlan)?.netns ?? assert.fail(`no probe on VLAN ${vlan}`);

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping']);
    const script = requireXenScript(this);
    bridge = await lab.bridge();
    [fake100, fake200] = [uniqueName('bridge'), uniqueName('bridge')];
    lab.defer(`fake bridges ${fake100} ${fake200}`, async () => { await deleteBridge(fake100); await deleteBridge(fake200); });
    await createFakeBridge(fake100, bridge, 100);
    await createFakeBridge(fake200, bridge, 200);
    await DaemonProcess.start(lab, { networks: { xen: { bridge } } });
    store = SimXenStore.create();
    lab.defer('simulated xenstore', () => { store.destroy(); return Promise.resolve(); });
    standIn = new XenToolstackStandIn(store, script);
    lab.defer('stand-in domains and their TAPs', () => { standIn.close(); return Promise.resolve(); });
    for (const vlan of [100, 200, 300] as const) await addProbe(vlan);
    libxl = standIn.createDomain({ toolstack: 'libxl', uuid: randomUUID(), name: 'xen-e2e-xl', vifs: [
      { devid: 0, mac: ACCESS.mac, bridge: `${bridge}.100` },
      { devid: 1, mac: TRUNK.mac, bridge: `${bridge}:100:200` },
    ] });
    xapi = standIn.createDomain({ toolstack: 'xenopsd', uuid: randomUUID(), name: 'xen-e2e-xapi', vifs: [
      { devid: 0, mac: FAKE.mac, bridge: fake100, xapiKeys: { 'vif-uuid': VIF_UUID, 'network-uuid': NETWORK_UUID, MTU: '1500', 'locking-mode': 'unlocked' } },
    ] });
    // As on Xen: the devices are plugged before the domain is unpaused.
    for (const [domain, devid] of [[libxl, 0], [libxl, 1], [xapi, 0]] as const) {
      for (const call of await standIn.plug(domain, devid)) assert.equal(call.code, 0, `${call.argv.join(' ')} for ${deviceName(domain, devid, 'vif')}: ${call.stderr}`);
    }
    await lab.guest([
      { tap: deviceName(libxl, 0, 'vif'), mac: ACCESS.mac, cidr: ACCESS.cidr },
      { tap: deviceName(xapi, 0, 'vif'), mac: FAKE.mac, cidr: FAKE.cidr },
    ]);
  });

  after(() => lab.cleanup());

  it('each toolstack got its answer, and each port is on the real bridge with its VLANs, up', async () => {
    assert.equal(store.read(`/local/domain/0/backend/vif/${libxl.domid}/0/hotplug-status`), 'connected');
    assert.equal(store.read(`/local/domain/0/backend/vif/${libxl.domid}/1/hotplug-status`), 'connected');
    assert.equal(store.read(`/xapi/${xapi.uuid}/hotplug/${xapi.domid}/vif/0/hotplug`), 'online');
    const [access, trunk, fake] = await Promise.all([xenPort(deviceName(libxl, 0, 'vif')), xenPort(deviceName(libxl, 1, 'vif')), xenPort(deviceName(xapi, 0, 'vif'))]);
    assert.ok(access !== null && trunk !== null && fake !== null, `ports: ${JSON.stringify([access, trunk, fake])}`);
    assert.deepEqual([access.bridge, access.tag, access.trunks], [bridge, 100, []]);
    assert.deepEqual([trunk.bridge, trunk.tag, trunk.trunks], [bridge, null, [100, 200]]);
    assert.deepEqual([fake.bridge, fake.tag, fake.trunks], [bridge, 100, []], `${fake100} is a fake bridge: the port goes on ${bridge} with its tag`);
    assert.deepEqual([access.externalIds['attached-mac'], access.externalIds['xen-vm-uuid']], [ACCESS.mac, libxl.uuid]);
    assert.deepEqual([fake.externalIds['xs-vif-uuid'], fake.externalIds['xs-network-uuid'], fake.externalIds['attached-mac']], [VIF_UUID, NETWORK_UUID, FAKE.mac]);
    for (const device of [deviceName(libxl, 0, 'vif'), deviceName(libxl, 1, 'vif'), deviceName(xapi, 0, 'vif')]) {
      assert.ok(up(device), `${device} is down: the script must bring the device up, as vif-openvswitch does`);
    }
  });

  it('access BRIDGE.100 (libxl): the probe on VLAN 100 reaches the guest, the probe on VLAN 200 does not', async () => {
    assert.ok(await pingUntilReply(probe(100), ACCESS.address, REACH_MS), `no reply from ${ACCESS.address} on VLAN 100`);
    assert.equal(await pingFrom(probe(200), ACCESS.address), false, `${ACCESS.address} answered on VLAN 200`);
  });

  it('fake bridge on VLAN 100 (xenopsd private/bridge): the probe on VLAN 100 reaches the guest, the probe on VLAN 200 does not', async () => {
    assert.ok(await pingUntilReply(probe(100), FAKE.address, REACH_MS), `no reply from ${FAKE.address} on VLAN 100`);
    assert.equal(await pingFrom(probe(200), FAKE.address), false, `${FAKE.address} answered on VLAN 200`);
  });

  it('trunk BRIDGE:100:200 (libxl): tagged frames of VLAN 100 and 200 cross both ways with their tags; VLAN 300 and untagged do not', async () => {
    const endpoint = TapEndpoint.attach(deviceName(libxl, 1, 'vif'));
    try {
      const ask = (vlan: number | null, targetIp: string, timeoutMs = REACH_MS): ReturnType<TapEndpoint['arp']> =>
        endpoint.arp({ senderMac: TRUNK.mac, senderIp: TRUNK.address, targetIp, vlan }, timeoutMs);
      assert.equal((await ask(100, '192.0.2.1'))?.vlan, 100, 'the VLAN 100 probe answers, tagged 100');
      assert.equal((await ask(200, '192.0.2.2'))?.vlan, 200, 'the VLAN 200 probe answers, tagged 200');
      assert.equal(await ask(100, '192.0.2.2', 2_000), null, 'a VLAN 100 frame reached the VLAN 200 probe');
      assert.equal(await ask(300, '192.0.2.3', 2_000), null, 'VLAN 300 is not in the trunk, yet its probe answered');
      assert.equal(await ask(null, '192.0.2.1', 2_000), null, 'an untagged frame crossed a pure trunk port');
    } finally {
      endpoint.close();
    }
  });

  it('xenopsd VIF.move to a fake bridge on VLAN 200 (move type_if=vif): now VLAN 200 reaches the guest and VLAN 100 does not', async () => {
    store.write(`/xapi/${xapi.uuid}/private/vif/0/bridge`, fake200);
    const moved = await standIn.run(xapi, 0, 'move', 'vif', { udev: true });
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal((await xenPort(deviceName(xapi, 0, 'vif')))?.tag, 200);
    for (const vlan of [100, 200]) await run(['ip', '-n', probe(vlan), 'neigh', 'flush', 'all']);
    assert.ok(await pingUntilReply(probe(200), FAKE.address, REACH_MS), `no reply from ${FAKE.address} on VLAN 200 after the move`);
    assert.equal(await pingFrom(probe(100), FAKE.address), false, `${FAKE.address} still answers on VLAN 100 after the move`);
  });
});

/** The one veth end a probe namespace holds (besides lo). */
async function onlyLinkIn(netns: string): Promise<string> {
  const names = (await run(['ip', '-n', netns, '-o', 'link', 'show'])).split('\n').flatMap((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? []);
  const links = names.filter((name) => name !== 'lo');
  assert.equal(links.length, 1, `probe namespace ${netns} holds ${links.join(', ')}`);
  return links[0]!;
}
