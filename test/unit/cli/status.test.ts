import assert from 'node:assert/strict';
import { emptyMessage, filterVifs, parseStates, parseStatusArgs, pfTable } from '../../../src/cli/status.js';
import type { VifStatus } from '../../../src/daemon/status-view.js';

const row = (domain: string | null, uuid: string | null, state: VifStatus['state']): VifStatus => ({
  domain, uuid, index: 0, network: 'n', device: 'd', mac: null, bridge: null, vlan: '-', tag: null, trunks: [], mtu: null,
  kind: 'tap', state, drift: [], problems: [], ofport: null,
});

describe('cli/status: DOMAIN and --state', () => {
  const rows = [
    row('web1', 'aaaaaaaa-0000-4000-8000-000000000001', 'ok'), row('web1', 'aaaaaaaa-0000-4000-8000-000000000001', 'drift'),
    row('AAAAAAAA-0000-4000-8000-000000000002', 'bbbbbbbb-0000-4000-8000-000000000002', 'detaching'), row(null, null, 'orphan'),
  ];

  it('keeps everything without a filter', () => assert.equal(filterVifs(rows, { states: [] }).length, 4));

  it('matches a name exactly, or a UUID in any case', () => {
    assert.deepEqual(filterVifs(rows, { domain: 'web1', states: [] }), rows.slice(0, 2));
    assert.deepEqual(filterVifs(rows, { domain: 'WEB1', states: [] }), []);
    assert.deepEqual(filterVifs(rows, { domain: 'AAAAAAAA-0000-4000-8000-000000000001', states: [] }), rows.slice(0, 2));
    // A VM whose name looks like another VM's UUID is found by its name, not mistaken for that VM.
    assert.deepEqual(filterVifs(rows, { domain: 'AAAAAAAA-0000-4000-8000-000000000002', states: [] }), [rows[2]]);
  });

  it('keeps the states asked for, together with the domain', () => {
    assert.deepEqual(filterVifs(rows, { states: ['orphan', 'detaching'] }), [rows[2], rows[3]]);
    assert.deepEqual(filterVifs(rows, { domain: 'web1', states: ['drift'] }), [rows[1]]);
  });

  it('parses --state lists, repeated or comma-separated, and refuses unknown states', () => {
    assert.deepEqual(parseStates(['drift,missing', 'orphan', 'drift']), ['drift', 'missing', 'orphan']);
    assert.throws(() => parseStates(['ok,']), /--state "" is not one of ok, drift, missing, orphan, detaching/);
    assert.throws(() => parseStates(['OK']), /--state "OK" is not one of/);
    assert.deepEqual(parseStatusArgs(['web1', '--state', 'ok', '--json']), { json: true, filter: { domain: 'web1', states: ['ok'] } });
    assert.throws(() => parseStatusArgs(['a', 'b']), /unexpected argument "b"/);
  });

  it('says what matched nothing', () => {
    assert.equal(emptyMessage({ states: [] }), 'no VIFs');
    assert.equal(emptyMessage({ domain: 'a b', states: ['drift', 'missing'] }), 'no VIFs of VM "a b" in state drift or missing');
  });

  it('shows each SR-IOV PF\'s link: DOWN when not up, a dash for an unknown carrier', () => {
    const pf = { network: 'fast', pf: '0000:01:00.0', pfName: 'enp1s0', operstate: 'up', carrier: true, up: true };
    assert.deepEqual(pfTable([pf, { ...pf, pfName: 'enp2s0', pf: '0000:02:00.0', operstate: 'down', carrier: null, up: false }]).split('\n').map((line) => line.trim().split(/\s+/).join(' ')), [
      'NETWORK PF ADDRESS LINK OPERSTATE CARRIER', 'fast enp1s0 0000:01:00.0 up up yes', 'fast enp2s0 0000:02:00.0 DOWN down -']);
  });
});
