// VIF ports through vifd's own OVSDB client, against real ovsdb-server and
// ovs-vswitchd: every column as ovs-vsctl shows it, idempotency, updates in
// place, batching, per-row failure, ownership, and real traffic for VLANs.
import assert from 'node:assert/strict';
import { OvsdbClient } from '../../../src/host/ovsdb/client.js';
import { OvsdbTransactionError } from '../../../src/host/ovsdb/errors.js';
import { InterfaceError, PortWriter } from '../../../src/host/ovsdb/port-writer.js';
import { EXTERNAL_ID, NotOwnedError, PORT_MONITOR, UnknownBridgeError, listOwnedPorts, vifExternalIds } from '../../../src/host/ovsdb/ports.js';
import type { VifPortSpec } from '../../../src/host/ovsdb/ports.js';
import { InvalidInputError } from '../../../src/model/errors.js';
import { validateVlanSettings } from '../../../src/model/vlan.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { uniqueName } from '../../harness/names.js';
import { moveIntoNetns, pingFrom, pingUntilReply } from '../../harness/net.js';
import { PrivateOvsdbServer } from '../../harness/ovsdb-server.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const vsctl = async (...args: string[]): Promise<string> => (await run(['ovs-vsctl', '--timeout=10', ...args])).trim();

function spec(bridge: string, name: string, extra: Partial<VifPortSpec> = {}): VifPortSpec {
  return {
    bridge, name, vlan: validateVlanSettings({ tag: 100 }),
    externalIds: vifExternalIds({ vmUuid: UUID, index: 0, mac: '52:54:00:a1:f6:ed' }), ...extra,
  };
}

describe('integration: host/ovsdb ports and batching', function () {
  this.timeout(120_000);
  let lab: Lab;
  let client: OvsdbClient;
  let writer: PortWriter;
  let bridge: string;

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'ping']);
  });
  beforeEach(async () => {
    lab = new Lab();
    client = new OvsdbClient({ monitor: PORT_MONITOR });
    await client.start();
    lab.defer('OVSDB client', () => { client.close(); return Promise.resolve(); });
    writer = new PortWriter(client);
    bridge = await lab.bridge();
  });
  afterEach(() => lab.cleanup());

  it('plugs a TAP with every option, as ovs-vsctl shows it', async () => {
    const tap = await lab.tap();
    const applied = await writer.ensure(spec(bridge, tap, {
      vlan: validateVlanSettings({ mode: 'native-untagged', tag: 100, trunks: '200-202' }),
      mtuRequest: 1400, ingressPolicing: { rateKbps: 10_000, burstKb: 1000 },
    }));
    assert.ok(applied.ofport !== null && applied.ofport > 0, `ofport ${String(applied.ofport)}`);
    assert.equal(await vsctl('get', 'Port', tap, 'tag'), '100');
    assert.equal(await vsctl('get', 'Port', tap, 'trunks'), '[200, 201, 202]');
    assert.equal(await vsctl('get', 'Port', tap, 'vlan_mode'), 'native-untagged');
    assert.equal(await vsctl('get', 'Interface', tap, 'mtu_request'), '1400');
    assert.equal(await vsctl('get', 'Interface', tap, 'ingress_policing_rate'), '10000');
    assert.equal(await vsctl('get', 'Interface', tap, 'ingress_policing_burst'), '1000');
    assert.equal(await vsctl('get', 'Interface', tap, 'ofport'), String(applied.ofport));
    assert.equal(await vsctl('get', 'Interface', tap, 'mtu'), '1400');
    const ids = await vsctl('get', 'Interface', tap, 'external_ids');
    for (const expected of ['"vifd:owner"=vifd', `vm-uuid="${UUID}"`, '"vifd:vif-index"="0"', 'attached-mac="52:54:00:a1:f6:ed"', 'iface-status=active']) {
      assert.ok(ids.includes(expected), `${expected} missing from ${ids}`);
    }
  });

  it('is idempotent, and a changed request updates the same rows in place', async () => {
    const tap = await lab.tap();
    await writer.ensure(spec(bridge, tap));
    const portUuid = await vsctl('get', 'Port', tap, '_uuid');
    const before = writer.transactions;
    await writer.ensure(spec(bridge, tap));
    assert.equal(writer.transactions, before, 'an unchanged request sent a transaction');
    await writer.ensure(spec(bridge, tap, { vlan: validateVlanSettings({ tag: 300 }), mtuRequest: 1300 }));
    assert.equal(await vsctl('get', 'Port', tap, 'tag'), '300');
    assert.equal(await vsctl('get', 'Interface', tap, 'mtu_request'), '1300');
    assert.equal(await vsctl('get', 'Port', tap, '_uuid'), portUuid, 'the port was deleted and added instead of updated');
    await writer.ensure(spec(bridge, tap, { vlan: validateVlanSettings({}) }));
    assert.equal(await vsctl('get', 'Port', tap, 'tag'), '[]');
  });

  it('coalesces concurrent requests into few transactions, each applied by ovs-vswitchd', async () => {
    const taps = await Promise.all(Array.from({ length: 40 }, () => lab.tap()));
    const before = writer.transactions;
    const applied = await Promise.all(taps.map((tap, index) => writer.ensure(spec(bridge, tap, { vlan: validateVlanSettings({ tag: 10 + index }) }))));
    assert.ok(writer.transactions - before <= 3, `${writer.transactions - before} transactions for 40 ports`);
    assert.ok(applied.every((port) => port.ofport !== null && port.ofport > 0));
    assert.equal((await vsctl('list-ports', bridge)).split('\n').length, 40);
    assert.equal(await vsctl('get', 'Port', taps[39]!, 'tag'), '49');
  });

  it('fails only the bad rows of a batch: unknown bridge, not ours, duplicate interface name', async () => {
    const [good, foreign, clash] = [await lab.tap(), await lab.tap(), uniqueName('port')];
    await vsctl('add-port', bridge, foreign);
    // An interface named `clash` on a port with another name: inserting it again fails in the server.
    await vsctl('--', '--id=@i', 'create', 'Interface', `name=${clash}`, 'type=internal',
      '--', '--id=@p', 'create', 'Port', `name=${clash}x`, 'interfaces=@i', '--', 'add', 'Bridge', bridge, 'ports', '@p');
    const results = await Promise.allSettled([
      writer.ensure(spec(bridge, good)),
      writer.ensure(spec('vtnosuchbr', good.replace('t', 'q'))),
      writer.ensure(spec(bridge, foreign)),
      writer.ensure(spec(bridge, clash)),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.ok(results[1].status === 'rejected' && results[1].reason instanceof UnknownBridgeError);
    assert.match(String(results[1].reason), /bridge "vtnosuchbr" does not exist/);
    assert.ok(results[2].status === 'rejected' && results[2].reason instanceof NotOwnedError);
    const clashed: unknown = results[3].status === 'rejected' ? results[3].reason : null;
    assert.ok(clashed instanceof OvsdbTransactionError);
    assert.equal(clashed.kind, 'duplicate-name');
    assert.equal(await vsctl('get', 'Port', good, 'tag'), '100');
    assert.equal(await vsctl('get', 'Port', foreign, 'tag'), '[]', 'a port vifd does not own was changed');
  });

  it('refuses malformed input and changes nothing', async () => {
    const tap = await lab.tap();
    for (const bad of [{ tag: 0 }, { tag: 4095 }, { tag: 'x' }]) assert.throws(() => validateVlanSettings(bad), InvalidInputError);
    await assert.rejects(writer.ensure(spec(bridge, 'x'.repeat(16))), /is 16 bytes/);
    await assert.rejects(writer.ensure(spec(bridge, tap, { mtuRequest: 10 })), /mtu: 10 is outside 68-65535/);
    assert.equal(await vsctl('list-ports', bridge), '');
  });

  it('removes what it owns (twice is fine) and never what it does not', async () => {
    const [tap, foreign] = [await lab.tap(), await lab.tap()];
    await writer.ensure(spec(bridge, tap));
    assert.deepEqual(listOwnedPorts(client.replica).filter((port) => port.bridge === bridge).map((port) => [port.name, port.tag, port.externalIds[EXTERNAL_ID.vmUuid]]),
      [[tap, 100, UUID]]);
    await writer.remove(tap);
    await writer.remove(tap);
    assert.equal(await vsctl('list-ports', bridge), '');
    await vsctl('add-port', bridge, foreign);
    await assert.rejects(writer.remove(foreign), NotOwnedError);
    assert.equal(await vsctl('list-ports', bridge), foreign);
  });

  it('reports an interface ovs-vswitchd cannot open', async () => {
    const missing = uniqueName('tap'); // no such device
    await assert.rejects(writer.ensure(spec(bridge, missing)), (error: unknown) =>
      error instanceof InterfaceError && new RegExp(`interface ${missing}: ovs-vswitchd reports: .*${missing}`).test(error.message));
    await writer.remove(missing);
  });

  it('carries real traffic: access VLANs isolate, native-untagged joins its VLAN, trunk drops untagged', async () => {
    const probes = await Promise.all(['198.51.100.1/24', '198.51.100.2/24', '198.51.100.3/24'].map(async (cidr) => {
      const netns = await lab.netns();
      const [port, inside] = await lab.vethPair();
      await moveIntoNetns(inside, netns, cidr);
      return { netns, port };
    }));
    const [a, b, c] = probes as [typeof probes[0], typeof probes[0], typeof probes[0]];
    await writer.ensure(spec(bridge, a.port, { vlan: validateVlanSettings({ tag: 10 }) }));
    await writer.ensure(spec(bridge, b.port, { vlan: validateVlanSettings({ tag: 10 }) }));
    await writer.ensure(spec(bridge, c.port, { vlan: validateVlanSettings({ tag: 20 }) }));
    assert.ok(await pingUntilReply(a.netns, '198.51.100.2', 10_000), 'same access VLAN does not pass traffic');
    assert.equal(await pingFrom(a.netns, '198.51.100.3'), false, 'different access VLANs pass traffic');

    await writer.ensure(spec(bridge, c.port, { vlan: validateVlanSettings({ mode: 'native-untagged', tag: 10, trunks: '20' }) }));
    assert.ok(await pingUntilReply(a.netns, '198.51.100.3', 10_000), 'native-untagged port does not carry its native VLAN');

    await writer.ensure(spec(bridge, c.port, { vlan: validateVlanSettings({ trunks: '10' }) }));
    await run(['ip', '-n', a.netns, 'neigh', 'flush', 'all']);
    assert.equal(await pingFrom(a.netns, '198.51.100.3'), false, 'a trunk port accepted untagged frames');
  });

  it('survives ovsdb-server killed mid-run: nothing lost, nothing duplicated', async () => {
    const server = await PrivateOvsdbServer.create(lab, { withVswitchd: true });
    const privateBridge = uniqueName('bridge');
    await server.bridge(lab, privateBridge);
    const own = new OvsdbClient({ socketPath: server.socket, monitor: PORT_MONITOR, reconnectInitialMs: 50, reconnectMaxMs: 200 });
    await own.start();
    lab.defer('private OVSDB client', () => { own.close(); return Promise.resolve(); });
    const ownWriter = new PortWriter(own);
    const taps = await Promise.all(Array.from({ length: 10 }, () => lab.tap()));
    await Promise.all(taps.slice(0, 5).map((tap) => ownWriter.ensure(spec(privateBridge, tap))));
    await server.stop();
    const pending = Promise.all(taps.map((tap) => ownWriter.ensure(spec(privateBridge, tap))));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.start();
    await pending;
    const ports = (await server.vsctl('list-ports', privateBridge)).trim().split('\n').sort();
    assert.deepEqual(ports, [...taps].sort());
    assert.equal((await server.vsctl('--columns=name', 'find', 'Interface', 'external_ids:vifd\\:owner=vifd')).split('\n').filter((line) => line.startsWith('name')).length, 10);
  });
});
