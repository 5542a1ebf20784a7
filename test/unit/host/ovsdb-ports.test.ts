// The port planner is pure: these tests assert on the operations it returns
// for a replica built from OVSDB update messages, with no switch at all.
import assert from 'node:assert/strict';
import { NotOwnedError, UnknownBridgeError, listOwnedPorts, planEnsurePort, planRemovePort, vifExternalIds } from '../../../src/host/ovsdb/ports.js';
import type { VifPortSpec } from '../../../src/host/ovsdb/ports.js';
import { Replica } from '../../../src/host/ovsdb/replica.js';
import { validateVlanSettings } from '../../../src/model/vlan.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const ids = vifExternalIds({ vmUuid: UUID, index: 0, mac: '52:54:00:a1:f6:ed' });
const ownedIds = ['map', Object.entries({ ...ids, 'vifd:owner': 'vifd' }).sort(([a], [b]) => a.localeCompare(b))];

function replica(): Replica {
  const state = new Replica();
  state.apply({
    Bridge: {
      b1: { new: { name: 'br0', ports: ['set', [['uuid', 'p1'], ['uuid', 'p2']]] } },
      b2: { new: { name: 'br1', ports: ['set', []] } },
    },
    Port: {
      p1: { new: { name: 'vd-0', interfaces: ['uuid', 'i1'], tag: 100, trunks: ['set', []], vlan_mode: 'access',
        external_ids: ['map', [['vifd:owner', 'vifd'], ['vm-uuid', UUID]]] } },
      p2: { new: { name: 'eth9', interfaces: ['uuid', 'i2'], tag: ['set', []], trunks: ['set', []], vlan_mode: ['set', []], external_ids: ['map', []] } },
    },
    Interface: {
      i1: { new: { name: 'vd-0', type: '', mtu_request: ['set', []], ingress_policing_rate: 0, ingress_policing_burst: 0,
        external_ids: ownedIds, ofport: 3, error: ['set', []] } },
      i2: { new: { name: 'eth9', type: '', external_ids: ['map', []], ofport: 4 } },
    },
  });
  return state;
}

const spec = (extra: Partial<VifPortSpec> = {}): VifPortSpec =>
  ({ bridge: 'br0', name: 'vd-0', vlan: validateVlanSettings({ tag: 100 }), externalIds: ids, ...extra });

describe('host/ovsdb/ports: planning port changes', () => {
  it('plans nothing for a port that is already as asked', () => {
    assert.deepEqual(planEnsurePort(spec(), replica()), []);
  });

  it('inserts interface, port and the bridge reference for a new port', () => {
    const operations = planEnsurePort(spec({ name: 'vd-1', mtuRequest: 9000, vlan: validateVlanSettings({ trunks: '5-6' }) }), replica());
    assert.deepEqual(operations.map((op) => [op.op, 'table' in op ? op.table : '']), [['insert', 'Interface'], ['insert', 'Port'], ['mutate', 'Bridge']]);
    const [iface, port, bridge] = operations;
    assert.ok(iface?.op === 'insert' && port?.op === 'insert' && bridge?.op === 'mutate');
    assert.equal(iface.row.mtu_request, 9000);
    assert.deepEqual(port.row.trunks, ['set', [5, 6]]);
    assert.equal(port.row.vlan_mode, 'trunk');
    assert.deepEqual(port.row.tag, ['set', []]);
    assert.deepEqual(port.row.interfaces, ['named-uuid', iface['uuid-name']]);
    assert.deepEqual(bridge.mutations, [['ports', 'insert', ['set', [['named-uuid', port['uuid-name']]]]]]);
    assert.deepEqual(bridge.where, [['_uuid', '==', ['uuid', 'b1']]]);
  });

  it('updates only the changed columns', () => {
    assert.deepEqual(planEnsurePort(spec({ vlan: validateVlanSettings({ tag: 200 }) }), replica()),
      [{ op: 'update', table: 'Port', where: [['_uuid', '==', ['uuid', 'p1']]], row: { tag: 200 } }]);
    assert.deepEqual(planEnsurePort(spec({ ingressPolicing: { rateKbps: 1000, burstKb: 100 } }), replica()),
      [{ op: 'update', table: 'Interface', where: [['_uuid', '==', ['uuid', 'i1']]], row: { ingress_policing_rate: 1000, ingress_policing_burst: 100 } }]);
  });

  it('replaces only the external_ids keys it writes, and leaves foreign keys (ovn-installed) alone', () => {
    const state = replica();
    state.apply({ Interface: { i1: { new: { external_ids: ['map', [...ownedIds[1] as [string, string][], ['ovn-installed', 'true']]] } } } });
    assert.deepEqual(planEnsurePort(spec(), state), [], 'a foreign key counted as drift');
    const moved = { ...ids, 'attached-mac': '52:54:00:00:00:02' };
    assert.deepEqual(planEnsurePort(spec({ externalIds: moved }), state), [{
      op: 'mutate', table: 'Interface', where: [['_uuid', '==', ['uuid', 'i1']]],
      mutations: [['external_ids', 'delete', ['set', ['attached-mac']]], ['external_ids', 'insert', ['map', [['attached-mac', '52:54:00:00:00:02']]]]],
    }]);
  });

  it('moves a port between bridges without deleting it', () => {
    assert.deepEqual(planEnsurePort(spec({ bridge: 'br1' }), replica()), [
      { op: 'mutate', table: 'Bridge', where: [['_uuid', '==', ['uuid', 'b1']]], mutations: [['ports', 'delete', ['set', [['uuid', 'p1']]]]] },
      { op: 'mutate', table: 'Bridge', where: [['_uuid', '==', ['uuid', 'b2']]], mutations: [['ports', 'insert', ['set', [['uuid', 'p1']]]]] },
    ]);
  });

  it('refuses unknown bridges, ports it does not own and bad names', () => {
    assert.throws(() => planEnsurePort(spec({ bridge: 'nope' }), replica()), UnknownBridgeError);
    assert.throws(() => planEnsurePort(spec({ name: 'eth9' }), replica()), NotOwnedError);
    assert.throws(() => planRemovePort('eth9', replica()), /not owned by vifd/);
    assert.throws(() => planEnsurePort(spec({ name: 'a/b' }), replica()), /port: "a\/b" is not a valid interface name/);
  });

  it('removes by dropping the bridge reference, and plans nothing when gone', () => {
    assert.deepEqual(planRemovePort('vd-0', replica()),
      [{ op: 'mutate', table: 'Bridge', where: [['_uuid', '==', ['uuid', 'b1']]], mutations: [['ports', 'delete', ['set', [['uuid', 'p1']]]]] }]);
    assert.deepEqual(planRemovePort('vd-9', replica()), []);
  });

  it('lists only owned ports, with their state', () => {
    assert.deepEqual(listOwnedPorts(replica()), [{
      name: 'vd-0', bridge: 'br0', tag: 100, trunks: [], vlanMode: 'access',
      interfaceType: '', mtuRequest: null, ingressPolicing: { rateKbps: 0, burstKb: 0 },
      portExternalIds: { 'vifd:owner': 'vifd', 'vm-uuid': UUID },
      externalIds: { ...ids, 'vifd:owner': 'vifd' }, ofport: 3, error: null,
    }]);
  });

  it('keeps the replica current: modify merges, a missing "new" deletes', () => {
    const state = replica();
    state.apply({ Port: { p1: { old: { tag: 100 }, new: { tag: 7 } }, p2: { old: {} } } });
    assert.equal(state.row('Port', 'p1')?.tag, 7);
    assert.equal(state.row('Port', 'p1')?.name, 'vd-0');
    assert.equal(state.row('Port', 'p2'), undefined);
  });
});
