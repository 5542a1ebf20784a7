// One definition of "what vifd writes": whatever the planner inserts for a new
// port, diffPort reports when it changes, and planEnsurePort repairs. The
// columns and keys are enumerated from planInsert's own rows, so a column
// added to the insert without a diff fails here.
import assert from 'node:assert/strict';
import { NotOwnedError, OwnedPortIndex, diffPort, planEnsurePort, vifExternalIds } from '../../../src/host/ovsdb/ports.js';
import type { VifPortSpec } from '../../../src/host/ovsdb/ports.js';
import { ownedPortAsWritten } from '../../../src/host/ovsdb/port-columns.js';
import type { Operation } from '../../../src/host/ovsdb/operations.js';
import { Replica } from '../../../src/host/ovsdb/replica.js';
import { validateVlanSettings } from '../../../src/model/vlan.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const SPEC: VifPortSpec = {
  bridge: 'br0', name: 'vd-0',
  vlan: validateVlanSettings({ mode: 'native-untagged', tag: 100, trunks: '200-202' }),
  mtuRequest: 9000, ingressPolicing: { rateKbps: 10_000, burstKb: 1000 },
  externalIds: { ...vifExternalIds({ vmUuid: UUID, index: 0, mac: '52:54:00:a1:f6:ed' }), 'vifd:network': 'prod' },
};

type Rows = Record<string, Record<string, unknown>>;

/** What ovsdb-server does with planInsert's operations, as a monitor update. */
function inserted(spec: VifPortSpec): { replica: Replica; rows: { Interface: Record<string, unknown>; Port: Record<string, unknown> } } {
  const replica = new Replica();
  replica.apply({ Bridge: { b0: { new: { name: 'br0', ports: ['set', []] } }, b1: { new: { name: 'br1', ports: ['set', []] } } } });
  const operations = planEnsurePort(spec, replica);
  const insert = (table: string): Record<string, unknown> => {
    const op = operations.find((candidate): candidate is Extract<Operation, { op: 'insert' }> => candidate.op === 'insert' && candidate.table === table);
    assert.ok(op, `planInsert wrote no ${table} row`);
    return { ...op.row };
  };
  const rows = { Interface: insert('Interface'), Port: insert('Port') };
  replica.apply({
    Interface: { i0: { new: rows.Interface } },
    Port: { p0: { new: { ...rows.Port, interfaces: ['uuid', 'i0'] } } },
    Bridge: { b0: { new: { name: 'br0', ports: ['set', [['uuid', 'p0']]] } } },
  });
  return { replica, rows };
}

/** A different value of the same kind. */
function tampered(value: unknown): unknown {
  if (typeof value === 'number') return value + 1;
  if (typeof value === 'string') return value === '' ? 'internal' : `${value}x`;
  if (Array.isArray(value) && value[0] === 'set') {
    const elements = value[1] as unknown[];
    return ['set', elements.length === 0 ? [7] : elements.slice(0, -1)];
  }
  throw new Error(`no tamper for ${JSON.stringify(value)}`);
}

const seen = (replica: Replica): ReturnType<typeof diffPort> => {
  const port = OwnedPortIndex.of(replica).byName(SPEC.name);
  assert.ok(port, 'the index lost the port');
  return diffPort(SPEC, port);
};

const rowUuid = { Interface: 'i0', Port: 'p0' } as const;

describe('host/ovsdb/port-columns: one definition of what vifd writes', () => {
  it('finds nothing to change on the port it just wrote', () => {
    const { replica } = inserted(SPEC);
    assert.deepEqual(seen(replica), []);
    assert.deepEqual(planEnsurePort(SPEC, replica), []);
    assert.deepEqual(diffPort(SPEC, ownedPortAsWritten(SPEC)), []);
  });

  it('reports, and plans to repair, a change of every column and external_ids key planInsert writes', () => {
    const { rows } = inserted(SPEC);
    let checked = 0;
    for (const table of ['Interface', 'Port'] as const) {
      for (const [column, value] of Object.entries(rows[table])) {
        if (column === 'name' || column === 'interfaces') continue; // identity and references: not settings
        const cases: { field: string; tamper: unknown; repairs: (op: Operation) => boolean; owner?: boolean }[] = [];
        if (column === 'external_ids') {
          const pairs = (value as ['map', [string, string][]])[1];
          for (const [key, keep] of pairs) {
            const field = `${table === 'Port' ? 'port ' : ''}external_ids:${key}`;
            const repairs = (op: Operation): boolean => op.op === 'mutate' && op.table === table && JSON.stringify(op.mutations).includes(JSON.stringify(key));
            const owner = key === 'vifd:owner';
            cases.push({ field, tamper: ['map', pairs.map(([k, v]) => [k, k === key ? `${keep}x` : v])], repairs, owner });
            cases.push({ field, tamper: ['map', pairs.filter(([k]) => k !== key)], repairs, owner });
          }
        } else {
          cases.push({ field: column, tamper: tampered(value), repairs: (op) => op.op === 'update' && op.table === table && column in op.row });
        }
        for (const { field, tamper, repairs, owner } of cases) {
          const { replica } = inserted(SPEC);
          replica.apply({ [table]: { [rowUuid[table]]: { old: { [column]: value }, new: { [column]: tamper } } } } satisfies Rows);
          checked++;
          if (owner === true) {
            // The owner marker is not a setting: without it the port is someone else's and vifd leaves it alone.
            if (table === 'Port') assert.equal(OwnedPortIndex.of(replica).byName(SPEC.name), undefined, 'a port without the marker still counts as owned');
            else assert.deepEqual(seen(replica).map((drift) => drift.field), [field]);
            assert.throws(() => planEnsurePort(SPEC, replica), NotOwnedError);
            continue;
          }
          assert.deepEqual(seen(replica).map((drift) => drift.field), [field], `${table}.${column} changed to ${JSON.stringify(tamper)}`);
          const repair = planEnsurePort(SPEC, replica);
          assert.equal(repair.length, 1, `${field}: ${JSON.stringify(repair)}`);
          assert.ok(repair.every(repairs), `${field} is not what the repair writes: ${JSON.stringify(repair)}`);
        }
      }
    }
    assert.ok(checked >= 7 + 2 * 9, `only ${checked} columns and keys checked`);
  });

  it('reports a port on another bridge, and moves it back', () => {
    const { replica } = inserted(SPEC);
    replica.apply({ Bridge: { b0: { new: { ports: ['set', []] } }, b1: { new: { ports: ['set', [['uuid', 'p0']]] } } } });
    assert.deepEqual(seen(replica), [{ field: 'bridge', wanted: 'br0', seen: 'br1' }]);
    assert.deepEqual(planEnsurePort(SPEC, replica).map((op) => (op.op === 'mutate' ? [op.where, op.mutations[0]?.[1]] : op.op)),
      [[[['_uuid', '==', ['uuid', 'b1']]], 'delete'], [[['_uuid', '==', ['uuid', 'b0']]], 'insert']]);
  });

  it('shows values as display strings, none for absent, and ignores foreign keys', () => {
    const written = ownedPortAsWritten(SPEC);
    const drifted = {
      ...written, tag: null, trunks: [], mtuRequest: null, interfaceType: 'internal',
      externalIds: { ...written.externalIds, 'ovn-installed': 'true', 'iface-id': 'other' },
      portExternalIds: { 'vifd:owner': 'vifd', 'someone:else': 'x' },
    };
    assert.deepEqual(diffPort(SPEC, drifted), [
      { field: 'tag', wanted: '100', seen: 'none' },
      { field: 'trunks', wanted: '200,201,202', seen: 'none' },
      { field: 'type', wanted: 'system', seen: 'internal' },
      { field: 'mtu_request', wanted: '9000', seen: 'none' },
      { field: 'port external_ids:vm-uuid', wanted: UUID, seen: 'none' },
      { field: 'external_ids:iface-id', wanted: `${UUID}/0`, seen: 'other' },
    ]);
  });

  it('takes the empty interface type and "system" as the same (vswitch.conf.db)', () => {
    assert.deepEqual(diffPort(SPEC, { ...ownedPortAsWritten(SPEC), interfaceType: 'system' }), []);
  });
});
