import assert from 'node:assert/strict';
import { EVENT_ID, domainStateName, formatEvent, lifecycleNames, metadataTypeName } from '../../../src/libvirt/events.js';

describe('libvirt/events: event codes as names (libvirt-domain.h)', () => {
  it('uses libvirt\'s event ids', () => {
    assert.deepEqual(EVENT_ID, { lifecycle: 0, deviceRemoved: 15, deviceAdded: 19, deviceRemovalFailed: 22, metadataChange: 23 });
    assert.deepEqual([0, 1, 2, 7].map(metadataTypeName), ['description', 'title', 'element', '7']);
  });

  it('names lifecycle events and details, including migration', () => {
    assert.deepEqual(lifecycleNames(2, 0), { event: 'started', detail: 'booted' });
    assert.deepEqual(lifecycleNames(2, 1), { event: 'started', detail: 'migrated' });
    assert.deepEqual(lifecycleNames(5, 1), { event: 'stopped', detail: 'destroyed' });
    assert.deepEqual(lifecycleNames(5, 2), { event: 'stopped', detail: 'crashed' });
    assert.deepEqual(lifecycleNames(5, 3), { event: 'stopped', detail: 'migrated' });
    assert.deepEqual(lifecycleNames(3, 1), { event: 'suspended', detail: 'migrated' });
    assert.deepEqual(lifecycleNames(0, 0), { event: 'defined', detail: 'added' });
    assert.deepEqual(lifecycleNames(1, 0), { event: 'undefined', detail: 'removed' });
    assert.deepEqual(lifecycleNames(6, 1), { event: 'shutdown', detail: 'guest' });
    assert.deepEqual(lifecycleNames(7, 1), { event: 'pmsuspended', detail: 'disk' });
    assert.deepEqual(lifecycleNames(8, 0), { event: 'crashed', detail: 'panicked' });
    assert.deepEqual(lifecycleNames(4, 0), { event: 'resumed', detail: 'unpaused' });
  });

  it('keeps codes newer than its table visible instead of dropping them', () => {
    assert.deepEqual(lifecycleNames(5, 99), { event: 'stopped', detail: '99' });
    assert.deepEqual(lifecycleNames(42, 1), { event: 'unknown', detail: '1' });
  });

  it('names domain states', () => {
    assert.equal(domainStateName(1), 'running');
    assert.equal(domainStateName(5), 'shutoff');
    assert.equal(domainStateName(9), 'unknown');
  });

  it('formats one line per event, quoting hostile names', () => {
    const domain = { name: 'web"1\n', uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f', id: 3 };
    assert.equal(formatEvent({ type: 'lifecycle', event: 'started', detail: 'booted', code: 2, detailCode: 0, domain }),
      'started/booted "web\\"1\\n" 6695eb01-f6a4-8304-79aa-97f2502e193f id=3');
    assert.equal(formatEvent({ type: 'device-added', device: 'net1', domain }),
      'device-added "web\\"1\\n" 6695eb01-f6a4-8304-79aa-97f2502e193f id=3 device="net1"');
  });
});
