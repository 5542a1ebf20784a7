// Drift of every column vifd writes, against a real ovsdb-server and
// ovs-vswitchd (a private pair, so a vifd running on the machine cannot take
// these ports for orphans): each column and external_ids key is changed behind
// vifd's back with ovs-vsctl, the owned-port index (fed by the monitor) shows
// it, diffPort names exactly that field, and PortWriter.ensure puts it back.
// Also: the index follows real monitor updates and a server restart.
import assert from 'node:assert/strict';
import { OvsdbClient } from '../../../src/host/ovsdb/client.js';
import { setElements } from '../../../src/host/ovsdb/datum.js';
import { PortWriter } from '../../../src/host/ovsdb/port-writer.js';
import { NotOwnedError, PORT_MONITOR, diffPort, vifExternalIds } from '../../../src/host/ovsdb/ports.js';
import type { ColumnDrift, VifPortSpec } from '../../../src/host/ovsdb/ports.js';
import { validateVlanSettings } from '../../../src/model/vlan.js';
import { Lab } from '../../harness/lab.js';
import { uniqueName } from '../../harness/names.js';
import { run } from '../../harness/exec.js';
import { createNetns, deleteNetns } from '../../harness/net.js';
import { PrivateOvsdbServer } from '../../harness/ovsdb-server.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const OTHER_VM = '9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11';

function fullSpec(bridge: string, name: string): VifPortSpec {
  return {
    bridge, name,
    vlan: validateVlanSettings({ mode: 'native-untagged', tag: 100, trunks: '200-202' }),
    mtuRequest: 1400, ingressPolicing: { rateKbps: 10_000, burstKb: 1000 },
    externalIds: { ...vifExternalIds({ vmUuid: UUID, index: 0, mac: '52:54:00:a1:f6:ed' }), 'vifd:network': 'prod' },
  };
}

/** One change behind vifd's back: the ovs-vsctl arguments, and how to read the value back. */
interface Tamper {
  readonly field: string;
  readonly change: (port: string) => string[];
  readonly read: (port: string) => string[];
}

const column = (table: 'Port' | 'Interface', name: string, value: string, field = name): Tamper =>
  ({ field, change: (port) => ['set', table, port, `${name}=${value}`], read: (port) => ['get', table, port, name] });

/** ovs-vsctl's syntax for a map key: quoted when it holds a colon (vifd:network). */
const quoted = (id: string): string => (id.includes(':') ? JSON.stringify(id) : id);

const key = (table: 'Port' | 'Interface', id: string, value: string | null): Tamper => ({
  field: `${table === 'Port' ? 'port ' : ''}external_ids:${id}`,
  change: (port) => (value === null ? ['remove', table, port, 'external_ids', quoted(id)] : ['set', table, port, `external_ids:${quoted(id)}=${value}`]),
  read: (port) => ['get', table, port, 'external_ids'],
});

describe('integration: host/ovsdb drift of every written column, repaired', function () {
  this.timeout(180_000);
  const lab = new Lab();
  let server: PrivateOvsdbServer;
  let client: OvsdbClient;
  let writer: PortWriter;
  let bridge: string;
  let otherBridge: string;
  let netns: string;

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs-programs']);
    // ovs-vswitchd and its TAPs in a namespace of their own: the host's ovs-vswitchd, when it runs,
    // owns the userspace datapath of the machine's namespace.
    netns = uniqueName('netns');
    lab.defer(`netns ${netns}`, () => deleteNetns(netns));
    await createNetns(netns);
    server = await PrivateOvsdbServer.create(lab, { withVswitchd: true, netns });
    [bridge, otherBridge] = [uniqueName('bridge'), uniqueName('bridge')];
    await server.bridge(lab, bridge);
    await server.bridge(lab, otherBridge);
    client = new OvsdbClient({ socketPath: server.socket, monitor: PORT_MONITOR, reconnectInitialMs: 50, reconnectMaxMs: 200 });
    await client.start();
    lab.defer('OVSDB client', () => { client.close(); return Promise.resolve(); });
    writer = new PortWriter(client);
  });
  after(() => lab.cleanup());

  const drift = (spec: VifPortSpec): ColumnDrift[] | null => {
    const port = client.ownedPorts.byName(spec.name);
    return port === undefined ? null : diffPort(spec, port);
  };
  const vsctl = async (...args: string[]): Promise<string> => (await server.vsctl(...args)).trim();
  // A TAP in the test's namespace; it goes with the namespace.
  const tap = async (): Promise<string> => {
    const name = uniqueName('tap');
    await run(['ip', '-n', netns, 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
    await run(['ip', '-n', netns, 'link', 'set', name, 'up']);
    return name;
  };

  async function plugged(): Promise<VifPortSpec> {
    const spec = fullSpec(bridge, await tap());
    const applied = await writer.ensure(spec);
    assert.ok(applied.ofport !== null && applied.ofport > 0);
    assert.deepEqual(drift(spec), []);
    return spec;
  }

  const tampers: Tamper[] = [
    column('Port', 'tag', '7'),
    column('Port', 'trunks', '5'),
    column('Port', 'vlan_mode', 'native-tagged'),
    // Not "internal": ovs-vswitchd would make an internal device of the TAP's name and delete it when
    // the type goes back, taking the TAP with it. A patch port opens no device.
    column('Interface', 'type', 'patch'),
    column('Interface', 'mtu_request', '1300'),
    column('Interface', 'ingress_policing_rate', '5'),
    column('Interface', 'ingress_policing_burst', '5'),
    ...['vm-uuid', 'vifd:vif-index', 'attached-mac', 'iface-id', 'iface-status', 'vifd:network'].map((id) => key('Interface', id, 'tampered')),
    key('Interface', 'iface-id', null),
    key('Interface', 'attached-mac', null),
    key('Port', 'vm-uuid', OTHER_VM),
    key('Port', 'vm-uuid', null),
  ];

  it('reports exactly the changed column or key, and ensure puts it back (every column and key vifd writes)', async () => {
    const spec = await plugged();
    // Every field vifd writes differs from a port with nothing set: each must have a tamper here
    // (the owner markers and the bridge have tests of their own below).
    const nothing = { name: spec.name, bridge: null, tag: null, trunks: [], vlanMode: null, interfaceType: 'none', mtuRequest: null,
      ingressPolicing: { rateKbps: -1, burstKb: -1 }, portExternalIds: {}, externalIds: {}, ofport: null, error: null };
    const covered = new Set(tampers.map((tamper) => tamper.field));
    for (const { field } of diffPort(spec, nothing)) {
      if (!field.endsWith('vifd:owner') && field !== 'bridge') assert.ok(covered.has(field), `no tamper for ${field}`);
    }
    for (const tamper of tampers) {
      const before = await vsctl(...tamper.read(spec.name));
      await vsctl(...tamper.change(spec.name));
      await client.waitUntil(() => (drift(spec)?.length ?? 0) > 0, 10_000, `drift of ${tamper.field} in the index`);
      assert.deepEqual(drift(spec)?.map((d) => d.field), [tamper.field], `after changing ${tamper.field}`);
      await writer.ensure(spec).catch((error: unknown) => { throw new Error(`repairing ${tamper.field}: ${String(error)}`); });
      assert.deepEqual(drift(spec), [], `${tamper.field} not repaired in the replica`);
      assert.equal(await vsctl(...tamper.read(spec.name)), before, `${tamper.field} not repaired in OVSDB`);
    }
    assert.equal(await vsctl('get', 'Interface', spec.name, 'mtu'), '1400', 'ovs-vswitchd does not use the repaired interface');
  });

  it('reports a port moved to another bridge and moves it back', async () => {
    const spec = await plugged();
    const portUuid = await vsctl('get', 'Port', spec.name, '_uuid');
    await vsctl('--', 'remove', 'Bridge', bridge, 'ports', portUuid, '--', 'add', 'Bridge', otherBridge, 'ports', portUuid);
    await client.waitUntil(() => client.ownedPorts.byName(spec.name)?.bridge === otherBridge, 10_000, 'the move in the index');
    assert.deepEqual(drift(spec), [{ field: 'bridge', wanted: bridge, seen: otherBridge }]);
    await writer.ensure(spec);
    assert.equal(await vsctl('port-to-br', spec.name), bridge);
    assert.equal(await vsctl('get', 'Port', spec.name, '_uuid'), portUuid, 'moved by delete-and-add');
    assert.deepEqual(drift(spec), []);
  });

  it('leaves foreign external_ids keys alone: no drift, nothing sent, still there after a repair', async () => {
    const spec = await plugged();
    await vsctl('set', 'Interface', spec.name, 'external_ids:ovn-installed=true', '--', 'set', 'Port', spec.name, 'external_ids:note=x');
    await client.waitUntil(() => client.ownedPorts.byName(spec.name)?.externalIds['ovn-installed'] === 'true', 10_000, 'the foreign key');
    const transactions = writer.transactions;
    assert.deepEqual(drift(spec), []);
    await writer.ensure(spec);
    assert.equal(writer.transactions, transactions, 'a foreign key made vifd write');
    await vsctl('set', 'Interface', spec.name, 'external_ids:iface-id=x');
    await client.waitUntil(() => (drift(spec)?.length ?? 0) > 0, 10_000, 'the iface-id drift');
    await writer.ensure(spec);
    assert.equal(await vsctl('get', 'Interface', spec.name, 'external_ids:ovn-installed'), '"true"');
    assert.equal(await vsctl('get', 'Port', spec.name, 'external_ids:note'), 'x');
  });

  it('treats a removed owner marker as someone else\'s port: reported or dropped, never taken over', async () => {
    const spec = await plugged();
    await vsctl('remove', 'Interface', spec.name, 'external_ids', quoted('vifd:owner'));
    await client.waitUntil(() => (drift(spec)?.length ?? 0) > 0, 10_000, 'the interface marker drift');
    assert.deepEqual(drift(spec)?.map((d) => d.field), ['external_ids:vifd:owner']);
    await assert.rejects(writer.ensure(spec), NotOwnedError);
    await vsctl('remove', 'Port', spec.name, 'external_ids', quoted('vifd:owner'));
    await client.waitUntil(() => client.ownedPorts.byName(spec.name) === undefined, 10_000, 'the port to leave the index');
    assert.deepEqual(client.ownedPorts.ofVm(UUID).map((port) => port.name).filter((name) => name === spec.name), []);
    await assert.rejects(writer.ensure(spec), NotOwnedError);
    assert.equal(await vsctl('get', 'Port', spec.name, 'tag'), '100');
  });

  it('keeps the index current from real monitor updates and across a server restart', async () => {
    const specs = [fullSpec(bridge, await tap()), { ...fullSpec(bridge, await tap()), externalIds: vifExternalIds({ vmUuid: OTHER_VM, index: 1, mac: '52:54:00:00:00:77' }) }];
    await Promise.all(specs.map((spec) => writer.ensure(spec)));
    const [mine, theirs] = specs as [VifPortSpec, VifPortSpec];
    assert.ok(client.ownedPorts.ofVm(OTHER_VM).some((port) => port.name === theirs.name));
    assert.deepEqual(client.ownedPorts.macUsers('52:54:00:00:00:77'), [OTHER_VM]);
    assert.ok(client.ownedPorts.macUsers('52:54:00:A1:F6:ED').includes(UUID));
    await vsctl('del-port', theirs.name);
    await client.waitUntil(() => client.ownedPorts.byName(theirs.name) === undefined, 10_000, 'the deleted port to leave the index');
    assert.deepEqual(client.ownedPorts.macUsers('52:54:00:00:00:77'), []);
    const before = client.ownedPorts.all().map((port) => port.name).sort();
    await server.stop();
    await server.start();
    await client.waitUntil(() => client.connected, 20_000, 'the reconnect');
    assert.deepEqual(client.ownedPorts.all().map((port) => port.name).sort(), before);
    assert.deepEqual(drift(mine), []);
    await vsctl('set', 'Port', mine.name, 'tag=9');
    await client.waitUntil(() => client.ownedPorts.byName(mine.name)?.tag === 9, 10_000, 'an update after the reconnect');
  });

  it('builds the same replica and index from monitor_cond diffs (the default) as from monitor\'s whole columns', async () => {
    const plain = new OvsdbClient({ socketPath: server.socket, monitor: PORT_MONITOR, monitorMethod: 'monitor' });
    await plain.start();
    lab.defer('monitor client', () => { plain.close(); return Promise.resolve(); });
    const specs = await Promise.all([0, 1, 2].map(async () => fullSpec(bridge, await tap())));
    await Promise.all(specs.map((spec) => writer.ensure(spec)));
    const [a, b, c] = specs.map((spec) => spec.name) as [string, string, string];
    await vsctl('set', 'Port', a, 'tag=[]', 'trunks=[]', 'vlan_mode=[]', '--', 'set', 'Port', b, 'trunks=7,8,9', '--',
      'set', 'Interface', b, 'external_ids:extra=1', '--', 'remove', 'Interface', c, 'external_ids', 'iface-status');
    await vsctl('set', 'Port', b, 'trunks=8,10', '--', 'set', 'Interface', b, 'external_ids:extra=2', '--', 'del-port', c);
    const portUuid = await vsctl('get', 'Port', a, '_uuid');
    await vsctl('--', 'remove', 'Bridge', bridge, 'ports', portUuid, '--', 'add', 'Bridge', otherBridge, 'ports', portUuid);
    const canonical = (value: unknown): string => JSON.stringify(Array.isArray(value) && value[0] === 'map'
      ? [...(value[1] as unknown[])].map((pair) => JSON.stringify(pair)).sort()
      : setElements(value).map((atom) => JSON.stringify(atom)).sort());
    // monitor_cond leaves columns at their default out of a row ("initial"/"insert"); monitor sends them.
    const defaults = new Set([canonical(['set', []]), canonical(0), canonical(''), canonical(false)]);
    const snapshot = (from: OvsdbClient): string => JSON.stringify(['Bridge', 'Port', 'Interface'].map((table) =>
      [...from.replica.rows(table)].sort(([x], [y]) => x.localeCompare(y)).map(([uuid, row]) => [uuid, Object.entries(row)
        .map(([column, value]) => [column, canonical(value)]).filter(([, value]) => !defaults.has(value ?? '')).sort(([x], [y]) => (x ?? '').localeCompare(y ?? ''))])));
    await client.waitUntil(() => client.ownedPorts.byName(a)?.bridge === otherBridge, 10_000, 'the last change (monitor_cond)');
    await plain.waitUntil(() => plain.ownedPorts.byName(a)?.bridge === otherBridge, 10_000, 'the last change (monitor)');
    assert.equal(snapshot(client), snapshot(plain));
    const sorted = (from: OvsdbClient): unknown => [...from.ownedPorts.all()].sort((x, y) => x.name.localeCompare(y.name));
    assert.deepEqual(sorted(client), sorted(plain));
    assert.deepEqual(client.ownedPorts.byName(b)?.trunks, [8, 10]);
    assert.equal(client.ownedPorts.byName(b)?.externalIds.extra, '2');
    assert.equal(client.ownedPorts.byName(c), undefined);
  });
});
