// monitor_cond's update2 diffs applied to the replica (pure): sets toggle,
// maps add/remove/replace by key, columns of at most one value are replaced,
// and listeners see whole rows before and after, as with "monitor".
import assert from 'node:assert/strict';
import { applyColumnDiff, columnKind } from '../../../src/host/ovsdb/datum-diff.js';
import { OwnedPortIndex } from '../../../src/host/ovsdb/ports.js';
import { Replica } from '../../../src/host/ovsdb/replica.js';
import type { ColumnKinds } from '../../../src/host/ovsdb/replica.js';

const kinds: ColumnKinds = (_table, column) => (column === 'ports' || column === 'trunks' ? 'set' : column === 'external_ids' ? 'map' : 'scalar');
const ref = (uuid: string): ['uuid', string] => ['uuid', uuid];

describe('host/ovsdb/datum-diff: update2 column diffs', () => {
  it('tells column kinds from schema types', () => {
    assert.equal(columnKind('string'), 'scalar');
    assert.equal(columnKind({ key: 'integer', min: 0, max: 1 }), 'scalar');
    assert.equal(columnKind({ key: 'integer', min: 0, max: 4096 }), 'set');
    assert.equal(columnKind({ key: { type: 'uuid' }, min: 0, max: 'unlimited' }), 'set');
    assert.equal(columnKind({ key: 'string', value: 'string', min: 0, max: 'unlimited' }), 'map');
  });

  it('toggles set elements, whichever encoding', () => {
    assert.deepEqual(applyColumnDiff('set', ['set', [ref('a'), ref('b')]], ref('c')), ['set', [ref('a'), ref('b'), ref('c')]]);
    assert.deepEqual(applyColumnDiff('set', ['set', [ref('a'), ref('b')]], ['set', [ref('a')]]), ['set', [ref('b')]]);
    assert.deepEqual(applyColumnDiff('set', ['set', [1, 2, 3]], ['set', [3, 4]]), ['set', [1, 2, 4]]);
    assert.deepEqual(applyColumnDiff('set', 5, ['set', [5]]), ['set', []]);
  });

  it('adds, removes and replaces map keys', () => {
    const before = ['map', [['a', '1'], ['b', '2'], ['c', '3']]];
    assert.deepEqual(applyColumnDiff('map', before, ['map', [['a', '1'], ['b', '9'], ['d', '4']]]), ['map', [['b', '9'], ['c', '3'], ['d', '4']]]);
  });

  it('replaces a column of at most one value', () => {
    assert.equal(applyColumnDiff('scalar', 100, 7), 7);
    assert.deepEqual(applyColumnDiff('scalar', 100, ['set', []]), ['set', []]);
  });
});

describe('host/ovsdb/replica: applying update2', () => {
  it('keeps rows and the owned-port index as "monitor" would', () => {
    const replica = new Replica();
    const index = OwnedPortIndex.of(replica);
    const owned = ['map', [['vifd:owner', 'vifd'], ['vm-uuid', 'vm1']]];
    replica.applyUpdate2({
      Bridge: { b0: { initial: { name: 'br0', ports: ['set', [ref('p0')]] } }, b1: { initial: { name: 'br1', ports: ['set', []] } } },
      Port: { p0: { initial: { name: 'vd-0', interfaces: ref('i0'), tag: 100, external_ids: owned } } },
      Interface: { i0: { initial: { name: 'vd-0', external_ids: ['map', [['vifd:owner', 'vifd'], ['attached-mac', '52:54:00:00:00:01'], ['vm-uuid', 'vm1']]] } } },
    }, kinds);
    assert.equal(index.byName('vd-0')?.bridge, 'br0');
    replica.applyUpdate2({ Port: { p0: { modify: { tag: 7, external_ids: ['map', [['note', 'x']]] } } } }, kinds);
    assert.equal(index.byName('vd-0')?.tag, 7);
    assert.deepEqual(index.byName('vd-0')?.portExternalIds, { 'vifd:owner': 'vifd', 'vm-uuid': 'vm1', note: 'x' });
    replica.applyUpdate2({ Bridge: { b0: { modify: { ports: ref('p0') } }, b1: { modify: { ports: ['set', [ref('p0')]] } } } }, kinds);
    assert.equal(index.byName('vd-0')?.bridge, 'br1');
    assert.deepEqual(replica.row('Bridge', 'b0')?.ports, ['set', []]);
    // The bridge gaining the port listed before the one losing it: the move still lands.
    replica.applyUpdate2({ Bridge: { b0: { modify: { ports: ref('p0') } }, b1: { modify: { ports: ref('p0') } } } }, kinds);
    assert.equal(index.byName('vd-0')?.bridge, 'br0');
    replica.applyUpdate2({ Bridge: { b1: { modify: { ports: ref('p0') } }, b0: { modify: { ports: ref('p0') } } } }, kinds);
    assert.equal(index.byName('vd-0')?.bridge, 'br1');
    const before = index.refreshed;
    replica.applyUpdate2({ Bridge: { b1: { modify: { ports: ['set', [ref('p0'), ref('p9')]] } } } }, kinds);
    replica.applyUpdate2({ Bridge: { b1: { modify: { ports: ['set', [ref('p0'), ref('p9')]] } } } }, kinds);
    assert.equal(index.refreshed - before, 4, 'a diff re-read more than the ports it toggled');
    assert.equal(index.byName('vd-0')?.bridge, 'br1');
    replica.applyUpdate2({ Port: { p0: { modify: { external_ids: ['map', [['vifd:owner', 'vifd']]] } } } }, kinds);
    assert.equal(index.byName('vd-0'), undefined, 'a port without the owner marker still counts');
    replica.applyUpdate2({ Port: { p0: { delete: null } }, Bridge: { b1: { modify: { ports: ref('p0') } } } }, kinds);
    assert.equal(replica.row('Port', 'p0'), undefined);
    assert.equal(replica.byName('Port', 'vd-0'), undefined);
  });
});
