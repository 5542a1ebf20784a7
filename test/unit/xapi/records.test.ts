import assert from 'node:assert/strict';
import { XapiRecordCache } from '../../../src/xapi/cache.js';
import { XapiProtocolError } from '../../../src/xapi/errors.js';
import { parseAllRecords, parseEventFromResult } from '../../../src/xapi/records.js';

const CLASSES = ['VM', 'VIF', 'network'];

describe('unit: xapi event batches and the record cache', () => {
  it('maps lowercase event classes back to the subscribed spelling and drops unsubscribed ones', () => {
    const result = parseEventFromResult({
      events: [
        { id: '5', timestamp: '1.0', class: 'vm', operation: 'add', ref: 'OpaqueRef:a', snapshot: { uuid: 'u1' } },
        { id: '6', timestamp: '1.0', class: 'task', operation: 'add', ref: 'OpaqueRef:t', snapshot: {} },
        { id: '7', timestamp: '1.0', class: 'vif', operation: 'del', ref: 'OpaqueRef:b' },
      ],
      valid_ref_counts: { vm: 1, vif: 0, task: 1, bogus: 'x' },
      token: '00000000000000000007,00000000000000000000',
    }, CLASSES);
    assert.deepEqual(result.events.map((event) => [event.className, event.operation, event.ref]), [['VM', 'add', 'OpaqueRef:a'], ['VIF', 'del', 'OpaqueRef:b']]);
    assert.equal(result.events[1]?.snapshot, undefined);
    assert.equal(result.token, '00000000000000000007,00000000000000000000');
    assert.deepEqual(result.validRefCounts, { vm: 1, vif: 0, task: 1 });
  });

  const broken: [string, unknown][] = [
    ['no object', []],
    ['events not a list', { events: {}, token: '' }],
    ['no token', { events: [] }],
    ['an event without ref', { events: [{ class: 'vm', operation: 'add', snapshot: {} }], token: '' }],
    ['an unknown operation', { events: [{ class: 'vm', operation: 'upsert', ref: 'r', snapshot: {} }], token: '' }],
    ['a mod without snapshot', { events: [{ class: 'vm', operation: 'mod', ref: 'r' }], token: '' }],
  ];
  for (const [what, value] of broken) {
    it(`refuses an event.from reply with ${what}`, () => assert.throws(() => parseEventFromResult(value, CLASSES), XapiProtocolError));
  }

  it('refuses a get_all_records reply that is not ref to record', () => {
    assert.throws(() => parseAllRecords(['x'], 'VM'), XapiProtocolError);
    assert.throws(() => parseAllRecords({ 'OpaqueRef:a': 3 }, 'VM'), /OpaqueRef:a is not a record/);
    assert.equal(parseAllRecords({ 'OpaqueRef:a': { uuid: 'u' } }, 'VM').get('OpaqueRef:a')?.uuid, 'u');
  });

  it('replaces a class on resync and applies add, mod, del in order', () => {
    const cache = new XapiRecordCache(CLASSES);
    cache.replaceClass('VM', new Map([['OpaqueRef:old', { uuid: 'U1', power_state: 'Halted' }]]));
    cache.replaceClass('VM', new Map([['OpaqueRef:new', { uuid: 'U1', power_state: 'Halted' }]]));
    assert.equal(cache.get('VM', 'OpaqueRef:old'), undefined);
    assert.equal(cache.byUuid('VM', 'u1')?.ref, 'OpaqueRef:new');
    cache.apply([
      { className: 'VM', operation: 'mod', ref: 'OpaqueRef:new', snapshot: { uuid: 'U1', power_state: 'Running' } },
      { className: 'VIF', operation: 'add', ref: 'OpaqueRef:v', snapshot: { uuid: 'V' } },
      { className: 'VIF', operation: 'del', ref: 'OpaqueRef:v' },
      { className: 'VIF', operation: 'del', ref: 'OpaqueRef:never-seen' },
    ]);
    assert.equal(cache.get('VM', 'OpaqueRef:new')?.power_state, 'Running');
    assert.equal(cache.size('VIF'), 0);
    assert.equal(cache.size('network'), 0);
    assert.equal(cache.byUuid('network', 'x'), undefined);
  });
});
