// The OVSDB client against real ovsdb-server processes: a private one that
// the tests kill and restart, and the host's own with ovs-vswitchd for
// "applied" (cur_cfg) semantics. Results are checked with ovs-vsctl.
import assert from 'node:assert/strict';
import { OvsdbClient } from '../../../src/host/ovsdb/client.js';
import { map, namedUuid, set, uuid } from '../../../src/host/ovsdb/datum.js';
import { OvsdbDisconnectedError, OvsdbTimeoutError, OvsdbTransactionError } from '../../../src/host/ovsdb/errors.js';
import type { Operation } from '../../../src/host/ovsdb/operations.js';
import { Lab } from '../../harness/lab.js';
import { uniqueName } from '../../harness/names.js';
import { PrivateOvsdbServer } from '../../harness/ovsdb-server.js';
import { datapathType, deleteBridge } from '../../harness/ovs.js';
import { run } from '../../harness/exec.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const MONITOR = { Bridge: ['name', 'ports'], Port: ['name', 'interfaces', 'tag'], Interface: ['name', 'ofport', 'external_ids'] };

/** A bridge with its own internal port, hung off the root row, as ovs-vsctl add-br writes it. */
function addBridgeOps(bridge: string, extra: Record<string, string> = {}): Operation[] {
  return [
    { op: 'insert', table: 'Interface', 'uuid-name': 'iface', row: { name: bridge, type: 'internal', external_ids: map(extra) } },
    { op: 'insert', table: 'Port', 'uuid-name': 'port', row: { name: bridge, interfaces: namedUuid('iface') } },
    { op: 'insert', table: 'Bridge', 'uuid-name': 'bridge', row: { name: bridge, ports: namedUuid('port'), datapath_type: datapathType() } },
    { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['bridges', 'insert', set([namedUuid('bridge')])]] },
  ];
}

describe('integration: host/ovsdb client', function () {
  this.timeout(60_000);
  let lab: Lab;
  let client: OvsdbClient | null = null;
  const open = async (socketPath: string, options: { echoIntervalMs?: number } = {}): Promise<OvsdbClient> => {
    client = new OvsdbClient({ socketPath, monitor: MONITOR, reconnectInitialMs: 50, reconnectMaxMs: 200, ...options });
    await client.start();
    return client;
  };

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
  });
  beforeEach(() => { lab = new Lab(); });
  afterEach(async () => {
    client?.close();
    client = null;
    await lab.cleanup();
  });

  it('transacts, and its replica shows the rows ovs-vsctl sees', async () => {
    const server = await PrivateOvsdbServer.create(lab);
    const ovsdb = await open(server.socket);
    const [iface] = await ovsdb.transact(addBridgeOps('brx', { 'vifd:owner': 'vifd', odd: 'a "}{" b' }));
    assert.match(iface?.uuid?.[1] ?? '', /^[0-9a-f-]{36}$/);
    assert.equal((await server.vsctl('list-br')).trim(), 'brx');
    assert.equal((await server.vsctl('get', 'Interface', 'brx', 'external_ids:odd')).trim(), '"a \\"}{\\" b"');
    await ovsdb.waitUntil(() => ovsdb.replica.byName('Interface', 'brx') !== undefined, 5000, 'replica update');
    assert.deepEqual(ovsdb.replica.byName('Interface', 'brx')?.row.external_ids,
      ['map', [['odd', 'a "}{" b'], ['vifd:owner', 'vifd']]]);
  });

  it('follows changes other clients make', async () => {
    const server = await PrivateOvsdbServer.create(lab);
    const ovsdb = await open(server.socket);
    await server.vsctl('add-br', 'bry', '--', 'set', 'bridge', 'bry', 'datapath_type=netdev');
    await ovsdb.waitUntil(() => ovsdb.replica.byName('Bridge', 'bry') !== undefined, 5000, 'bridge bry in the replica');
    await server.vsctl('del-br', 'bry');
    await ovsdb.waitUntil(() => ovsdb.replica.byName('Bridge', 'bry') === undefined, 5000, 'bridge bry gone from the replica');
  });

  it('names the failing operation and its kind: duplicate name, referential integrity', async () => {
    const server = await PrivateOvsdbServer.create(lab);
    const ovsdb = await open(server.socket);
    await ovsdb.transact(addBridgeOps('brz'));
    await assert.rejects(ovsdb.transact(addBridgeOps('brz')), (error: unknown) => {
      assert.ok(error instanceof OvsdbTransactionError);
      assert.equal(error.kind, 'duplicate-name');
      assert.match(error.message, /^OVSDB transaction failed at (operation \d+ \(\w+ \w+\)|commit): constraint violation/);
      return true;
    });
    const dangling: Operation[] = [
      { op: 'insert', table: 'Port', row: { name: 'p1', interfaces: uuid('00000000-0000-0000-0000-000000000001') } },
    ];
    await assert.rejects(ovsdb.transact(dangling), (error: unknown) =>
      error instanceof OvsdbTransactionError && error.kind === 'referential-integrity');
    assert.equal((await server.vsctl('list-br')).trim(), 'brz', 'a failed transaction changed the database');
  });

  it('keeps the connection alive with echo', async () => {
    const server = await PrivateOvsdbServer.create(lab);
    const ovsdb = await open(server.socket, { echoIntervalMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.ok(ovsdb.connected);
  });

  it('survives ovsdb-server being killed and restarted: reconnects, resyncs, loses nothing', async () => {
    const server = await PrivateOvsdbServer.create(lab);
    const ovsdb = await open(server.socket);
    await ovsdb.transact(addBridgeOps('brk'));
    const disconnected = new Promise((resolve) => ovsdb.once('disconnected', resolve));
    await server.stop();
    await disconnected;
    await assert.rejects(ovsdb.transact(addBridgeOps('brl')), OvsdbDisconnectedError);
    const resynced = new Promise<void>((resolve) => ovsdb.once('resynced', () => { resolve(); }));
    await server.start();
    await resynced;
    assert.ok(ovsdb.replica.byName('Bridge', 'brk'), 'replica lost a row across the restart');
    await ovsdb.transact(addBridgeOps('brl'));
    assert.deepEqual((await server.vsctl('list-br')).trim().split('\n'), ['brk', 'brl']);
  });

  it('waits until ovs-vswitchd applied a transaction (next_cfg/cur_cfg)', async () => {
    const ovsdb = await open('/var/run/openvswitch/db.sock');
    const bridge = uniqueName('bridge');
    lab.defer(`OVS bridge ${bridge}`, () => deleteBridge(bridge));
    const { cfg } = await ovsdb.commit(addBridgeOps(bridge), { waitForVswitchd: true });
    assert.ok(cfg !== undefined && ovsdb.vswitchdCfg() >= cfg);
    // ovs-vswitchd has opened the bridge's internal interface: it has an OpenFlow port.
    const ofport = (await run(['ovs-vsctl', 'get', 'Interface', bridge, 'ofport'])).trim();
    assert.equal(ofport, '65534');
  });

  it('times out clearly when no ovs-vswitchd applies the change', async () => {
    const server = await PrivateOvsdbServer.create(lab);
    const ovsdb = await open(server.socket);
    await assert.rejects(ovsdb.commit(addBridgeOps('brw'), { waitForVswitchd: true, timeoutMs: 300 }), (error: unknown) =>
      error instanceof OvsdbTimeoutError && /waited 300 ms for ovs-vswitchd to apply configuration \d+ \(is ovs-vswitchd running\?\)/.test(error.message));
  });
});
