import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertInvalidInput } from './assert-invalid.js';
import {
  KVM_MAC_PREFIX, MAC_SCHEME_VERSION, MAX_MAC_ATTEMPTS, XEN_MAC_PREFIX, chooseMac, deterministicMac, parseMac, parseMacPrefix,
} from '../../../src/model/mac.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const kvm = parseMacPrefix(KVM_MAC_PREFIX);

const rejects = (fn: () => unknown, pattern: RegExp, field = 'mac'): void => {
  assertInvalidInput(fn, pattern, field);
};

describe('model/mac: deterministic MAC (invariant 6)', () => {
  // Golden vectors: the leading digest bytes come from `printf '%s' '<uuid>/<index>' | sha256sum`
  // in a shell, independently of this code. A change here changes MACs on running hosts.
  it('is pinned by golden vectors (scheme version 1)', () => {
    assert.equal(MAC_SCHEME_VERSION, 1);
    assert.equal(deterministicMac({ vmUuid: UUID, index: 0, prefix: kvm }).mac, '52:54:00:a1:f6:ed');
    assert.equal(deterministicMac({ vmUuid: UUID, index: 1, prefix: kvm }).mac, '52:54:00:5a:d8:0a');
    assert.equal(deterministicMac({ vmUuid: '00000000-0000-0000-0000-000000000000', index: 6, prefix: parseMacPrefix(XEN_MAC_PREFIX) }).mac,
      '00:16:3e:16:e1:e1');
    assert.equal(deterministicMac({ vmUuid: 'c0ffee00-1234-4abc-8def-0123456789ab', index: 42, prefix: parseMacPrefix('02') }).mac,
      '02:79:df:00:98:94');
    assert.equal(deterministicMac({ vmUuid: UUID, index: 0, prefix: parseMacPrefix('02:00:00:00:00') }).mac, '02:00:00:00:00:a1');
  });

  it('hashes the lowercase UUID: case does not change the MAC', () => {
    assert.equal(deterministicMac({ vmUuid: UUID.toUpperCase(), index: 0, prefix: kvm }).mac, '52:54:00:a1:f6:ed');
  });

  it('on collision uses <uuid>/<index>/<n> and reports how many were taken', () => {
    const taken = new Set(['52:54:00:5a:d8:0a']);
    const result = deterministicMac({ vmUuid: UUID, index: 1, prefix: kvm, isTaken: (mac) => taken.has(mac) });
    assert.deepEqual(result, { mac: '52:54:00:a1:cf:46', collisions: 1 }); // sha256('<uuid>/1/1') = a1cf46...
  });

  it('gives up with a typed error after a bounded number of candidates', () => {
    let asked = 0;
    rejects(() => deterministicMac({ vmUuid: UUID, index: 0, prefix: kvm, isTaken: () => (asked++, true) }), /no free MAC after 64/);
    assert.equal(asked, MAX_MAC_ATTEMPTS);
  });

  it('refuses a bad UUID or index', () => {
    rejects(() => deterministicMac({ vmUuid: 'not-a-uuid', index: 0, prefix: kvm }), /"not-a-uuid" is not a UUID/, 'uuid');
    rejects(() => deterministicMac({ vmUuid: `${UUID}x`, index: 0, prefix: kvm }), /is not a UUID/, 'uuid');
    rejects(() => deterministicMac({ vmUuid: UUID, index: -1, prefix: kvm }), /-1 is not a VIF index/, 'index');
    rejects(() => deterministicMac({ vmUuid: UUID, index: 1.5, prefix: kvm }), /is not a VIF index/, 'index');
    rejects(() => deterministicMac({ vmUuid: UUID, index: 1000, prefix: kvm }), /is not a VIF index/, 'index');
  });

  it('lets an explicit MAC win, canonicalized', () => {
    assert.deepEqual(chooseMac({ vmUuid: UUID, index: 0, prefix: kvm, explicit: '52:54:00:AA:BB:CC' }),
      { mac: '52:54:00:aa:bb:cc', collisions: 0, source: 'explicit' });
    assert.deepEqual(chooseMac({ vmUuid: UUID, index: 0, prefix: kvm }), { mac: '52:54:00:a1:f6:ed', collisions: 0, source: 'derived' });
    rejects(() => chooseMac({ vmUuid: UUID, index: 0, prefix: kvm, explicit: '01:00:5e:00:00:01' }), /multicast/);
  });

  describe('parseMacPrefix', () => {
    it('accepts 1 to 5 bytes in any case', () => {
      assert.deepEqual(parseMacPrefix('52:54:00'), { bytes: [0x52, 0x54, 0x00], text: '52:54:00' });
      assert.deepEqual(parseMacPrefix('0A').bytes, [0x0a]);
      assert.equal(parseMacPrefix('02:AB:cd:00:11').text, '02:ab:cd:00:11');
    });
    for (const [input, pattern] of [
      ['', /is not a MAC prefix/], ['52:54:00:00:00:00', /has 6 bytes/], ['52-54-00', /is not a MAC prefix/],
      ['52:54:0', /is not a MAC prefix/], ['52:54:000', /is not a MAC prefix/], ['zz', /is not a MAC prefix/],
      ['52::00', /is not a MAC prefix/], ['01:00:5e', /multicast prefix/], ['ff', /multicast prefix/],
      [' 52:54:00', /is not a MAC prefix/],
    ] as const) {
      it(`rejects ${JSON.stringify(input)}`, () => rejects(() => parseMacPrefix(input), pattern, 'mac_prefix'));
    }
    it('rejects non-strings', () => rejects(() => parseMacPrefix(525400), /expected a MAC prefix, got 525400/, 'mac_prefix'));
  });

  describe('parseMac', () => {
    it('canonicalizes to lowercase', () => assert.equal(parseMac('52:54:00:AB:cd:EF'), '52:54:00:ab:cd:ef'));
    for (const [input, pattern] of [
      ['52:54:00:ab:cd', /not a MAC address \(6 bytes\)/], ['52:54:00:ab:cd:ef:01', /not a MAC address \(6 bytes\)/],
      ['52-54-00-ab-cd-ef', /hex pairs separated by ':'/], ['5254.00ab.cdef', /is not a MAC address/],
      ['ff:ff:ff:ff:ff:ff', /multicast/], ['33:33:00:00:00:01', /multicast/], ['00:00:00:00:00:00', /not a usable MAC/],
      ['52:54:00:ab:cd:eg', /is not a MAC address/], ['52:54:00:ab:cd:ef\n', /is not a MAC address/],
    ] as const) {
      it(`rejects ${JSON.stringify(input)}`, () => rejects(() => parseMac(input), pattern));
    }
    it('names the caller\'s field', () => rejects(() => parseMac(null, 'interfaces[2].mac'), /expected a MAC address, got null/, 'interfaces[2].mac'));
  });

  describe('properties', () => {
    const prefixArb = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 5 })
      .map((bytes) => [bytes[0]! & 0xfe, ...bytes.slice(1)]) // a unicast first octet
      .map((bytes) => parseMacPrefix(bytes.map((b) => b.toString(16).padStart(2, '0')).join(':')));
    const indexArb = fc.integer({ min: 0, max: 999 });

    it('is well-formed, starts with the prefix, unicast and deterministic', () => {
      fc.assert(fc.property(fc.uuid(), indexArb, prefixArb, (uuid, index, prefix) => {
        const { mac, collisions } = deterministicMac({ vmUuid: uuid, index, prefix });
        assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        assert.ok(mac.startsWith(`${prefix.text}:`));
        assert.equal(Number.parseInt(mac.slice(0, 2), 16) & 1, 0);
        assert.equal(collisions, 0);
        assert.equal(deterministicMac({ vmUuid: uuid.toUpperCase(), index, prefix }).mac, mac);
        assert.equal(parseMac(mac), mac);
      }));
    });

    it('skips every taken candidate and never returns a taken MAC', () => {
      fc.assert(fc.property(fc.uuid(), indexArb, fc.integer({ min: 1, max: 10 }), (uuid, index, takenCount) => {
        const taken = new Set<string>();
        const isTaken = (mac: string): boolean => taken.has(mac);
        for (let i = 0; i < takenCount; i++) taken.add(deterministicMac({ vmUuid: uuid, index, prefix: kvm, isTaken }).mac);
        const result = deterministicMac({ vmUuid: uuid, index, prefix: kvm, isTaken });
        assert.equal(taken.has(result.mac), false);
        assert.equal(result.collisions, takenCount);
      }));
    });
  });
});
