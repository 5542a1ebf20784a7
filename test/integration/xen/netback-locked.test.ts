// XAPI's locking_mode=locked on real ovsdb-server and ovs-vswitchd: a TAP
// named as netback names its devices (vifD.0) is plugged locked with one
// allowed IPv4 address, and frames written on it as the guest's reach a probe
// namespace on the same bridge only with the guest's MAC and that address
// (an ARP request answered, an ICMP echo answered); a spoofed MAC or another
// address is dropped by vifd's rules. Unlocking and unplugging leave no rule with vifd's cookie.
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { hostEffectors } from '../../../src/daemon/host-effectors.js';
import { Engine } from '../../../src/engine/engine.js';
import { NetDevices } from '../../../src/host/net-devices.js';
import { OfctlFlowTables } from '../../../src/host/ofctl.js';
import { OvsdbClient } from '../../../src/host/ovsdb/client.js';
import { resolveFakeBridge } from '../../../src/host/ovsdb/fake-bridges.js';
import { PORT_MONITOR } from '../../../src/host/ovsdb/ports.js';
import { PortWriter } from '../../../src/host/ovsdb/port-writer.js';
import { TapDevices } from '../../../src/host/tap.js';
import { VIFD_COOKIE_MARK, VIFD_COOKIE_MATCH, portCookie } from '../../../src/kinds/netback/lock-flows.js';
import { recoverNetbackVifs } from '../../../src/kinds/netback/recover.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { CompositeSource } from '../../../src/sources/composite.js';
import { XenHotplug } from '../../../src/sources/xen-hotplug/daemon-side.js';
import { parseXenHotplugRequest } from '../../../src/sources/xen-hotplug/protocol.js';
import { XenVms } from '../../../src/sources/xen-hotplug/vms.js';
import { Lab } from '../../harness/lab.js';
import { createTap, deleteLink } from '../../harness/net.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { icmpEchoFrame, isEchoReplyTo } from '../../harness/xen/icmp-frames.js';
import { TapEndpoint } from '../../harness/xen/tap-endpoint.js';
import { run } from '../../harness/exec.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const GUEST_MAC = '00:16:3e:5a:01:00';
const SPOOFED_MAC = '00:16:3e:5a:01:99';
const ANSWERED_MS = 10_000;
const DROPPED_MS = 2_500;

describe('integration: a locked Xen VIF\'s OpenFlow rules on real Open vSwitch, with real frames', function () {
  this.timeout(120_000);
  const lab = new Lab();
  const taps = new TapDevices();
  const devices = new NetDevices();
  const flows = new OfctlFlowTables();
  const domid = randomInt(20_000, 32_000);
  const device = `vif${domid}.0`;
  const [vmUuid, vifUuid, networkUuid] = [randomUUID(), randomUUID(), randomUUID()];
  const subnet = `10.${randomInt(64, 250)}.${randomInt(1, 250)}`;
  const [probeIp, guestIp, otherIp] = [`${subnet}.1`, `${subnet}.2`, `${subnet}.3`];
  let bridge: string;
  let xen: XenHotplug;
  let endpoint: TapEndpoint;
  let probeNetns: string;
  let probeMac = '';
  let seq = 0;

  const plug = (lockingMode: string) => parseXenHotplugRequest({
    version: 1, toolstack: 'xenopsd', command: 'online', action: 'plug', device: { name: device, type: 'vif', domid, devid: 0 },
    vm: { uuid: vmUuid, name: 'locked guest' }, mac: GUEST_MAC, bridge: { bridge },
    xapi: { vifUuid, networkUuid, lockingMode, ipv4Allowed: [guestIp] },
  });
  const ask = (senderMac: string, senderIp: string, timeoutMs: number) => endpoint.arp({ senderMac, senderIp, targetIp: probeIp, vlan: null }, timeoutMs);
  /** An echo request from the TAP to the probe; true when its reply comes back. */
  const ping = (srcMac: string, srcIp: string, timeoutMs: number): Promise<boolean> => {
    const spec = { srcMac, dstMac: probeMac, srcIp, dstIp: probeIp, id: domid, seq: ++seq };
    return endpoint.exchange(icmpEchoFrame(spec), (frame) => isEchoReplyTo(frame, spec), timeoutMs);
  };
  /** The probe's neighbours fixed, so its echo replies need no ARP the guest would have to answer. */
  const fixProbeNeighbours = async (): Promise<void> => {
    const links = (await run(['ip', '-n', probeNetns, '-o', 'link', 'show'])).split('\n');
    const inside = links.map((line) => /^\d+: ([^@:]+)/.exec(line)?.[1]).find((name) => name !== undefined && name !== 'lo');
    assert.ok(inside !== undefined, links.join('\n'));
    for (const ip of [guestIp, otherIp]) await run(['ip', '-n', probeNetns, 'neigh', 'replace', ip, 'lladdr', GUEST_MAC, 'dev', inside, 'nud', 'permanent']);
  };
  const vifdRules = () => flows.dump(bridge, VIFD_COOKIE_MATCH);

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
    bridge = await lab.bridge();
    lab.defer(`TAP ${device}`, () => deleteLink(device));
    await createTap(device);
    probeNetns = (await lab.probe(bridge, `${probeIp}/24`, {})).netns;
    endpoint = TapEndpoint.attach(device);
    const client = new OvsdbClient({ monitor: PORT_MONITOR });
    await client.start();
    lab.defer('OVSDB client', () => { endpoint.close(); client.close(); taps.close(); devices.close(); return Promise.resolve(); });
    const vms = new XenVms({ exists: (name) => devices.exists(name), recover: () => recoverNetbackVifs(client.ownedPorts.all()) });
    const engine = new Engine({
      settings: { macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 }, networks: new Map() },
      source: new CompositeSource(vms), log: quiet, host: hostEffectors(taps, new PortWriter(client), client, devices, flows),
    });
    xen = new XenHotplug(engine, vms, (name) => resolveFakeBridge(client.replica, name), quiet);
    lab.defer('the VM\'s ports', async () => { await engine.release(() => Promise.resolve({ uuid: vmUuid, name: 'locked guest' })); });
  });
  after(() => lab.cleanup());

  it('the cookie vifd looks for carries its mark', () => {
    assert.equal(BigInt(portCookie(device)) >> 32n, VIFD_COOKIE_MARK);
  });

  it('unlocked: even a spoofed MAC and another address get through (the probe answers anything)', async () => {
    assert.deepEqual(await xen.handle(plug('unlocked')), { outcome: 'plugged', bridge });
    const reply = await ask(SPOOFED_MAC, otherIp, ANSWERED_MS);
    assert.notEqual(reply, null);
    probeMac = reply?.senderMac ?? '';
    await fixProbeNeighbours();
    assert.equal(await ping(GUEST_MAC, otherIp, ANSWERED_MS), true, 'an IPv4 echo from an address locked mode does not allow');
    assert.deepEqual(await vifdRules(), []);
  });

  it('locked: the guest\'s MAC with its allowed address is answered; a spoofed MAC or another address is dropped', async () => {
    assert.deepEqual(await xen.handle(plug('locked')), { outcome: 'plugged', bridge });
    const rules = await vifdRules();
    assert.ok(rules.length >= 4 && rules.every((rule) => rule.includes(`cookie=${portCookie(device)}`)), rules.join('\n'));
    assert.notEqual(await ask(GUEST_MAC, guestIp, ANSWERED_MS), null, 'the guest\'s own MAC and address');
    assert.equal(await ask(SPOOFED_MAC, guestIp, DROPPED_MS), null, 'a spoofed source MAC');
    assert.equal(await ask(GUEST_MAC, otherIp, DROPPED_MS), null, 'an address not in ipv4-allowed');
    assert.equal(await ping(GUEST_MAC, guestIp, ANSWERED_MS), true, 'IPv4 from the guest\'s MAC and allowed address');
    assert.equal(await ping(GUEST_MAC, otherIp, DROPPED_MS), false, 'IPv4 from an address not in ipv4-allowed');
    assert.equal(await ping(SPOOFED_MAC, guestIp, DROPPED_MS), false, 'IPv4 from a spoofed MAC');
    assert.deepEqual(await xen.handle(plug('locked')), { outcome: 'unchanged', bridge });
    assert.deepEqual(await vifdRules(), rules, 'a repeated plug leaves the rules as they were');
  });

  it('unlocked again: its rules are removed; locked then unplugged: no rule with vifd\'s cookie is left', async () => {
    assert.deepEqual(await xen.handle(plug('unlocked')), { outcome: 'plugged', bridge });
    assert.deepEqual(await vifdRules(), []);
    assert.equal(await ping(GUEST_MAC, otherIp, ANSWERED_MS), true);
    await xen.handle(plug('locked'));
    assert.ok((await vifdRules()).length > 0);
    const unplug = parseXenHotplugRequest({ version: 1, toolstack: 'xenopsd', command: 'remove', action: 'unplug', device: { name: device, type: 'vif', domid, devid: 0 }, vm: { uuid: vmUuid } });
    assert.deepEqual(await xen.handle(unplug), { outcome: 'unplugged' });
    assert.deepEqual(await vifdRules(), []);
  });
});
