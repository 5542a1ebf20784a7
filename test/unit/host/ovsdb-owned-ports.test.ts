// The owned-port index against a Replica fed with monitor table-updates as
// ovsdb-server sends them ("monitor": a modify carries the changed columns
// whole, "old" with their previous values): every lookup follows inserts,
// updates, moves, ownership changes, deletes and a reset, and one update
// re-reads only the ports it touched.
import assert from 'node:assert/strict';
import { OwnedPortIndex, listOwnedPorts } from '../../../src/host/ovsdb/ports.js';
import { Replica } from '../../../src/host/ovsdb/replica.js';

const VM_A = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const VM_B = '9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11';
const ref = (uuid: string): ['uuid', string] => ['uuid', uuid];
const ports = (...uuids: string[]): unknown => ['set', uuids.map(ref)];
const ids = (entries: Record<string, string>): unknown => ['map', Object.entries(entries)];

function ifaceIds(vm: string, mac: string, owned = true): unknown {
  return ids({ ...(owned ? { 'vifd:owner': 'vifd' } : {}), 'vm-uuid': vm, 'attached-mac': mac });
}

/** A Port and its Interface as one insert. */
function portRows(n: string, vm: string, mac: string, owned = true): Record<string, Record<string, unknown>> {
  return {
    Port: { [`p${n}`]: { new: { name: `vd-${n}`, interfaces: ref(`i${n}`), tag: 100, trunks: ['set', []], vlan_mode: 'access',
      external_ids: ids(owned ? { 'vifd:owner': 'vifd', 'vm-uuid': vm } : {}) } } },
    Interface: { [`i${n}`]: { new: { name: `vd-${n}`, type: '', external_ids: ifaceIds(vm, mac, owned), ofport: 5, error: ['set', []] } } },
  };
}

function loaded(): { replica: Replica; index: OwnedPortIndex } {
  const replica = new Replica();
  const index = OwnedPortIndex.of(replica);
  const a = portRows('0', VM_A, '52:54:00:00:00:0a');
  const b = portRows('1', VM_B, '52:54:00:00:00:0b');
  const foreign = portRows('2', VM_B, '52:54:00:00:00:0c', false);
  replica.apply({
    Bridge: { b0: { new: { name: 'br0', ports: ports('p0', 'p1', 'p2') } }, b1: { new: { name: 'br1', ports: ports() } } },
    Port: { ...a.Port, ...b.Port, ...foreign.Port },
    Interface: { ...a.Interface, ...b.Interface, ...foreign.Interface },
  });
  return { replica, index };
}

const names = (list: readonly { name: string }[]): string[] => list.map((port) => port.name).sort();

describe('host/ovsdb/owned-ports: the owned-port index', () => {
  it('indexes inserted owned ports by name, VM and MAC, and leaves foreign ones out', () => {
    const { index } = loaded();
    assert.deepEqual(names(index.all()), ['vd-0', 'vd-1']);
    assert.deepEqual(names(index.ofVm(VM_A)), ['vd-0']);
    assert.deepEqual(names(index.ofVm(VM_B)), ['vd-1']);
    assert.equal(index.byName('vd-0')?.bridge, 'br0');
    assert.equal(index.byName('vd-2'), undefined);
    assert.deepEqual(index.macUsers('52:54:00:00:00:0A'), [VM_A]);
    assert.deepEqual(index.macUsers('52:54:00:00:00:0c'), [], 'a foreign port counted as a MAC user');
  });

  it('is the same whether made before the rows arrived or after', () => {
    const { replica, index } = loaded();
    const copy = new Replica();
    copy.apply(Object.fromEntries(['Bridge', 'Port', 'Interface'].map((table) =>
      [table, Object.fromEntries([...replica.rows(table)].map(([uuid, row]) => [uuid, { new: row }]))])));
    const sorted = (view: OwnedPortIndex): unknown[] => [...view.all()].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(sorted(OwnedPortIndex.of(copy)), sorted(index));
    assert.equal(OwnedPortIndex.of(copy), OwnedPortIndex.of(copy), 'one index per replica');
  });

  it('follows updates of Port and Interface columns, MAC and VM included', () => {
    const { replica, index } = loaded();
    replica.apply({ Port: { p0: { old: { tag: 100 }, new: { tag: 7 } } } });
    assert.equal(index.byName('vd-0')?.tag, 7);
    replica.apply({ Interface: { i0: { old: { mtu_request: ['set', []] }, new: { mtu_request: 1400, external_ids: ifaceIds(VM_B, '52:54:00:00:00:ff') } } } });
    assert.equal(index.byName('vd-0')?.mtuRequest, 1400);
    assert.deepEqual(index.macUsers('52:54:00:00:00:0a'), []);
    assert.deepEqual(index.macUsers('52:54:00:00:00:ff'), [VM_B]);
    assert.deepEqual(names(index.ofVm(VM_A)), []);
    assert.deepEqual(names(index.ofVm(VM_B)), ['vd-0', 'vd-1']);
  });

  it('moves a port between bridges, and drops the bridge when it is deleted', () => {
    const { replica, index } = loaded();
    replica.apply({ Bridge: { b1: { old: { ports: ports() }, new: { ports: ports('p0') } }, b0: { old: { ports: ports('p0', 'p1', 'p2') }, new: { ports: ports('p1', 'p2') } } } });
    assert.equal(index.byName('vd-0')?.bridge, 'br1');
    assert.equal(index.byName('vd-1')?.bridge, 'br0');
    replica.apply({ Bridge: { b1: { old: { name: 'br1', ports: ports('p0') } } } });
    assert.equal(index.byName('vd-0')?.bridge, null);
  });

  it('follows a port re-pointed to another interface', () => {
    const { replica, index } = loaded();
    replica.apply({
      Interface: { i9: { new: { name: 'vd-0', type: 'internal', external_ids: ifaceIds(VM_A, '52:54:00:00:00:99') } }, i0: { old: {} } },
      Port: { p0: { old: { interfaces: ref('i0') }, new: { interfaces: ref('i9') } } },
    });
    assert.equal(index.byName('vd-0')?.interfaceType, 'internal');
    replica.apply({ Interface: { i9: { old: { ofport: ['set', []] }, new: { ofport: 12 } } } });
    assert.equal(index.byName('vd-0')?.ofport, 12, 'an update of the new interface was missed');
  });

  it('drops a port that loses the owner marker and takes it back when it regains it', () => {
    const { replica, index } = loaded();
    replica.apply({ Port: { p1: { old: {}, new: { external_ids: ids({ 'vm-uuid': VM_B }) } } } });
    assert.deepEqual(names(index.all()), ['vd-0']);
    assert.deepEqual(index.ofVm(VM_B), []);
    assert.deepEqual(index.macUsers('52:54:00:00:00:0b'), []);
    assert.equal(index.byName('vd-1'), undefined);
    replica.apply({ Port: { p2: { old: {}, new: { external_ids: ids({ 'vifd:owner': 'vifd', 'vm-uuid': VM_B }) } } } });
    assert.deepEqual(names(index.all()), ['vd-0', 'vd-2']);
    assert.deepEqual(names(index.ofVm(VM_B)), ['vd-2']);
    assert.deepEqual(index.macUsers('52:54:00:00:00:0c'), [VM_B]);
  });

  it('forgets deleted ports', () => {
    const { replica, index } = loaded();
    replica.apply({
      Bridge: { b0: { old: { ports: ports('p0', 'p1', 'p2') }, new: { ports: ports('p1', 'p2') } } },
      Port: { p0: { old: { name: 'vd-0' } } }, Interface: { i0: { old: { name: 'vd-0' } } },
    });
    assert.deepEqual(names(index.all()), ['vd-1']);
    assert.equal(index.byName('vd-0'), undefined);
    assert.deepEqual(index.macUsers('52:54:00:00:00:0a'), []);
    assert.deepEqual(index.ofVm(VM_A), []);
  });

  it('starts over on reset, from the next full update', () => {
    const { replica, index } = loaded();
    replica.reset();
    assert.deepEqual(index.all(), []);
    const fresh = portRows('5', VM_A, '52:54:00:00:00:05');
    replica.apply({ Bridge: { b0: { new: { name: 'br0', ports: ports('p5') } } }, ...fresh });
    assert.deepEqual(names(index.all()), ['vd-5']);
    assert.equal(index.byName('vd-5')?.bridge, 'br0');
    assert.deepEqual(listOwnedPorts(replica).map((port) => port.name), ['vd-5']);
  });

  it('re-reads only the ports an update touched, on a bridge of thousands', () => {
    const replica = new Replica();
    const index = OwnedPortIndex.of(replica);
    const many = Array.from({ length: 3000 }, (_, n) => portRows(String(n), VM_A, '52:54:00:00:00:01'));
    replica.apply({
      Bridge: { b0: { new: { name: 'br0', ports: ports(...many.map((_, n) => `p${n}`)) } } },
      Port: Object.assign({}, ...many.map((rows) => rows.Port)) as object,
      Interface: Object.assign({}, ...many.map((rows) => rows.Interface)) as object,
    });
    assert.equal(index.all().length, 3000);
    const before = index.refreshed;
    replica.apply({ Interface: { i17: { old: { ofport: 5 }, new: { ofport: 6 } } }, Port: { p18: { old: { tag: 100 }, new: { tag: 1 } } } });
    assert.equal(index.refreshed - before, 2);
    const added = portRows('new', VM_B, '52:54:00:00:00:02');
    replica.apply({ Bridge: { b0: { old: { ports: ports(...many.map((_, n) => `p${n}`)) }, new: { ports: ports(...many.map((_, n) => `p${n}`), 'pnew') } } }, ...added });
    assert.equal(index.refreshed - before, 3, 'a new port re-read the whole bridge');
    assert.equal(index.byName('vd-new')?.bridge, 'br0');
  });
});
