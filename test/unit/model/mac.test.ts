import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertInvalidInput } from './assert-invalid.js';
import { anyCaseUuid, macPrefix, unicastMacText, vifIndex } from './property-arbitraries.js';
import { InvalidInputError } from '../../../src/model/errors.js';
import {
  KVM_MAC_PREFIX, MAC_SCHEME_VERSION, MAX_MAC_ATTEMPTS, XEN_MAC_PREFIX, chooseMac, deterministicMac, macCandidate, parseMac, parseMacPrefix,
} from '../../../src/model/mac.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const kvm = parseMacPrefix(KVM_MAC_PREFIX);
const xen = parseMacPrefix(XEN_MAC_PREFIX);
const oneByte = parseMacPrefix('02'); // leaves 5 hashed bytes: candidates practically never repeat

const rejects = (fn: () => unknown, pattern: RegExp, field = 'mac'): void => {
  assertInvalidInput(fn, pattern, field);
};

describe('model/mac: deterministic MAC (invariant 6)', () => {
  // Golden vectors: the leading digest bytes come from `printf '%s' '<uuid>/<index>' | sha256sum`
  // (and '<uuid>/<index>/<n>' for collisions) in a shell, independently of this code.
  // A change here changes MACs on running hosts: it needs a new MAC_SCHEME_VERSION.
  it('is pinned by golden vectors (scheme version 1)', () => {
    assert.equal(MAC_SCHEME_VERSION, 1);
    assert.equal(KVM_MAC_PREFIX, '52:54:00');
    assert.equal(XEN_MAC_PREFIX, '00:16:3e');
    assert.equal(deterministicMac({ vmUuid: UUID, index: 0, prefix: kvm }).mac, '52:54:00:a1:f6:ed');
    assert.equal(deterministicMac({ vmUuid: UUID, index: 1, prefix: kvm }).mac, '52:54:00:5a:d8:0a');
    assert.equal(deterministicMac({ vmUuid: '00000000-0000-0000-0000-000000000000', index: 6, prefix: xen }).mac, '00:16:3e:16:e1:e1');
    assert.equal(deterministicMac({ vmUuid: 'c0ffee00-1234-4abc-8def-0123456789ab', index: 42, prefix: oneByte }).mac, '02:79:df:00:98:94');
    assert.equal(deterministicMac({ vmUuid: UUID, index: 0, prefix: parseMacPrefix('02:00:00:00:00') }).mac, '02:00:00:00:00:a1');
    // Two time-based UUIDs made a moment apart differ in their first field only.
    assert.equal(deterministicMac({ vmUuid: 'c232ab00-9414-11ec-b3c8-9f6bdeced846', index: 3, prefix: kvm }).mac, '52:54:00:52:82:58');
    assert.equal(deterministicMac({ vmUuid: 'c232ab01-9414-11ec-b3c8-9f6bdeced846', index: 3, prefix: kvm }).mac, '52:54:00:e0:a2:cf');
  });

  it('pins the collision candidates <uuid>/<index>/<n>', () => {
    assert.equal(macCandidate(UUID, 0, kvm, 1), '52:54:00:13:ed:f1');
    assert.equal(macCandidate(UUID, 1, kvm, 1), '52:54:00:a1:cf:46');
    assert.equal(macCandidate(UUID, 1, kvm, 2), '52:54:00:a7:aa:db');
  });

  it('hashes the lowercase UUID: case does not change the MAC', () => {
    assert.equal(deterministicMac({ vmUuid: UUID.toUpperCase(), index: 0, prefix: kvm }).mac, '52:54:00:a1:f6:ed');
  });

  it('on collision uses <uuid>/<index>/<n> and reports how many were taken', () => {
    const taken = new Set(['52:54:00:5a:d8:0a', '52:54:00:a1:cf:46']);
    const asked: string[] = [];
    const result = deterministicMac({ vmUuid: UUID, index: 1, prefix: kvm, isTaken: (mac) => (asked.push(mac), taken.has(mac)) });
    assert.deepEqual(result, { mac: '52:54:00:a7:aa:db', collisions: 2 });
    assert.deepEqual(asked, ['52:54:00:5a:d8:0a', '52:54:00:a1:cf:46', '52:54:00:a7:aa:db']);
  });

  it('only asks isTaken when there is one, and otherwise reports no collision', () => {
    assert.deepEqual(deterministicMac({ vmUuid: UUID, index: 0, prefix: kvm }), { mac: '52:54:00:a1:f6:ed', collisions: 0 });
  });

  it('gives every attempt its own candidate', () => {
    const candidates = Array.from({ length: MAX_MAC_ATTEMPTS }, (_, attempt) => macCandidate(UUID, 0, kvm, attempt));
    assert.equal(new Set(candidates).size, MAX_MAC_ATTEMPTS);
  });

  it('gives up with a typed error naming the VM and VIF after a bounded number of candidates', () => {
    let asked = 0;
    assert.equal(MAX_MAC_ATTEMPTS, 64);
    rejects(() => deterministicMac({ vmUuid: UUID, index: 3, prefix: kvm, isTaken: () => (asked++, true) }),
      new RegExp(`^VM ${UUID} VIF 3: mac: no free MAC after 64 candidates with prefix 52:54:00$`));
    assert.equal(asked, MAX_MAC_ATTEMPTS);
  });

  it('refuses a bad UUID or index, naming the VM when the UUID is good', () => {
    rejects(() => deterministicMac({ vmUuid: 'not-a-uuid', index: 0, prefix: kvm }), /^uuid: "not-a-uuid" is not a UUID/, 'uuid');
    rejects(() => deterministicMac({ vmUuid: `${UUID}x`, index: 0, prefix: kvm }), /is not a UUID/, 'uuid');
    rejects(() => deterministicMac({ vmUuid: `{${UUID}}`, index: 0, prefix: kvm }), /is not a UUID/, 'uuid');
    rejects(() => deterministicMac({ vmUuid: UUID.replace(/-/g, ''), index: 0, prefix: kvm }), /is not a UUID/, 'uuid');
    rejects(() => deterministicMac({ vmUuid: UUID, index: -1, prefix: kvm }), new RegExp(`^VM ${UUID}: index: -1 is not a VIF index`), 'index');
    rejects(() => deterministicMac({ vmUuid: UUID, index: 1.5, prefix: kvm }), /1\.5 is not a VIF index/, 'index');
    rejects(() => deterministicMac({ vmUuid: UUID, index: 1000, prefix: kvm }), /1000 is not a VIF index \(an integer 0-999\)/, 'index');
    rejects(() => deterministicMac({ vmUuid: UUID, index: Number.NaN, prefix: kvm }), /is not a VIF index/, 'index');
  });

  describe('chooseMac', () => {
    it('lets an explicit MAC win, canonicalized, without asking isTaken', () => {
      const isTaken = (): boolean => assert.fail('an explicit MAC is the intent; duplicates are the caller\'s call');
      assert.deepEqual(chooseMac({ vmUuid: UUID, index: 0, prefix: kvm, explicit: '52:54:00:AA:BB:CC', isTaken }),
        { mac: '52:54:00:aa:bb:cc', collisions: 0, source: 'explicit' });
    });
    it('derives a MAC when none is given', () => {
      assert.deepEqual(chooseMac({ vmUuid: UUID, index: 0, prefix: kvm }), { mac: '52:54:00:a1:f6:ed', collisions: 0, source: 'derived' });
      assert.deepEqual(chooseMac({ vmUuid: UUID, index: 0, prefix: kvm, explicit: undefined }).source, 'derived');
    });
    it('refuses a bad explicit MAC, naming the VM, the VIF and the field', () => {
      rejects(() => chooseMac({ vmUuid: UUID, index: 2, prefix: kvm, explicit: '01:00:5e:00:00:01' }),
        new RegExp(`^VM ${UUID} VIF 2: mac: "01:00:5e:00:00:01" is a multicast address`));
      rejects(() => chooseMac({ vmUuid: UUID, index: 2, prefix: kvm, explicit: '52-54-00-aa-bb-cc' }), /VIF 2: mac: .*':' only/);
      rejects(() => chooseMac({ vmUuid: UUID, index: 2, prefix: kvm, explicit: 5 }), /VIF 2: mac: expected a MAC address, got 5/);
      rejects(() => chooseMac({ vmUuid: 'web1', index: 2, prefix: kvm, explicit: '52:54:00:aa:bb:cc' }), /"web1" is not a UUID/, 'uuid');
      rejects(() => chooseMac({ vmUuid: UUID, index: -2, prefix: kvm, explicit: '52:54:00:aa:bb:cc' }), /-2 is not a VIF index/, 'index');
    });
  });

  describe('parseMacPrefix', () => {
    it('accepts 1 to 5 bytes in any case', () => {
      assert.deepEqual(parseMacPrefix('52:54:00'), { bytes: [0x52, 0x54, 0x00], text: '52:54:00' });
      assert.deepEqual(parseMacPrefix('0A').bytes, [0x0a]);
      assert.equal(parseMacPrefix('02:AB:cd:00:11').text, '02:ab:cd:00:11');
      assert.equal(parseMacPrefix('fe').text, 'fe'); // locally administered, unicast
    });
    for (const [input, pattern] of [
      ['', /"" is not a MAC prefix/], ['52:54:00:00:00:00', /has 6 bytes; a MAC prefix has 1 to 5/], ['52:54:00:00:00:00:00', /has 7 bytes/],
      ['52-54-00', /is not a MAC prefix \(hex pairs separated by ':' only\)/], ['52.54.00', /is not a MAC prefix/],
      ['52:54:0', /is not a MAC prefix/], ['52:54:000', /is not a MAC prefix/], ['zz', /"zz" is not a MAC prefix/],
      ['52::00', /is not a MAC prefix/], ['52:54:', /is not a MAC prefix/], [':52:54', /is not a MAC prefix/],
      ['525400', /is not a MAC prefix/], [' 52:54:00', /is not a MAC prefix/], ['52:54:00\n', /is not a MAC prefix/],
      ['01:00:5e', /"01:00:5e" is a multicast prefix; VIF MACs must be unicast/], ['ff', /multicast prefix/], ['33:33', /multicast prefix/],
    ] as const) {
      it(`rejects ${JSON.stringify(input)}`, () => rejects(() => parseMacPrefix(input), pattern, 'mac_prefix'));
    }
    it('rejects non-strings', () => {
      rejects(() => parseMacPrefix(525400), /expected a MAC prefix, got 525400/, 'mac_prefix');
      rejects(() => parseMacPrefix(null), /expected a MAC prefix, got null/, 'mac_prefix');
      rejects(() => parseMacPrefix(['52', '54']), /expected a MAC prefix, got \["52","54"\]/, 'mac_prefix');
    });
    it('keeps the offending value for machine readers', () => {
      assert.throws(() => parseMacPrefix('ff:ff', 'hosts.a.prefix'), (error: unknown) =>
        error instanceof InvalidInputError && error.context.value === 'ff:ff' && error.message.startsWith('hosts.a.prefix: '));
    });
  });

  describe('parseMac', () => {
    it('canonicalizes to lowercase', () => {
      assert.equal(parseMac('52:54:00:AB:cd:EF'), '52:54:00:ab:cd:ef');
      assert.equal(parseMac('02:00:00:00:00:00'), '02:00:00:00:00:00');
    });
    for (const [input, pattern] of [
      ['52:54:00:ab:cd', /not a MAC address \(6 bytes\)/], ['52:54:00:ab:cd:ef:01', /not a MAC address \(6 bytes\)/],
      ['52-54-00-ab-cd-ef', /"52-54-00-ab-cd-ef" is not a MAC address \(hex pairs separated by ':' only\)/],
      ['5254.00ab.cdef', /is not a MAC address/], ['525400abcdef', /is not a MAC address/], ['', /"" is not a MAC address/],
      ['ff:ff:ff:ff:ff:ff', /"ff:ff:ff:ff:ff:ff" is a multicast address; a VIF needs a unicast MAC/],
      ['33:33:00:00:00:01', /multicast/], ['01:00:5e:00:00:fb', /multicast/], ['03:00:00:00:00:01', /multicast/],
      ['00:00:00:00:00:00', /00:00:00:00:00:00 is not a usable MAC/],
      ['52:54:00:ab:cd:eg', /is not a MAC address/], ['52:54:00:ab:cd:ef\n', /is not a MAC address/],
      ['52:54:00:ab:cd:e', /is not a MAC address/], ['52:54:00:ab:cd:', /is not a MAC address/], ['2:54:00:ab:cd:ef', /is not a MAC address/],
    ] as const) {
      it(`rejects ${JSON.stringify(input)}`, () => rejects(() => parseMac(input), pattern));
    }
    it('names the caller\'s field', () => rejects(() => parseMac(null, 'interfaces[2].mac'), /^interfaces\[2\]\.mac: expected a MAC address, got null$/, 'interfaces[2].mac'));
  });

  describe('properties', () => {
    it('is well-formed, starts with the prefix, unicast and deterministic', () => {
      fc.assert(fc.property(anyCaseUuid, vifIndex, macPrefix(), (uuid, index, prefix) => {
        const { mac, collisions } = deterministicMac({ vmUuid: uuid, index, prefix });
        assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        assert.ok(mac.startsWith(`${prefix.text}:`));
        assert.equal(Number.parseInt(mac.slice(0, 2), 16) & 1, 0);
        assert.equal(collisions, 0);
        assert.equal(deterministicMac({ vmUuid: uuid.toLowerCase(), index, prefix }).mac, mac);
        assert.equal(deterministicMac({ vmUuid: uuid.toUpperCase(), index, prefix }).mac, mac);
        assert.equal(parseMac(mac), mac);
      }));
    });

    it('tries candidates that differ from each other', () => {
      fc.assert(fc.property(fc.uuid(), vifIndex, (uuid, index) => {
        const candidates = Array.from({ length: 16 }, (_, attempt) => macCandidate(uuid, index, oneByte, attempt));
        assert.equal(new Set(candidates).size, candidates.length);
      }));
    });

    it('returns the first candidate not taken and counts the ones skipped', () => {
      fc.assert(fc.property(fc.uuid(), vifIndex, fc.uniqueArray(fc.integer({ min: 0, max: 12 }), { maxLength: 12 }), (uuid, index, takenAttempts) => {
        const taken = new Set(takenAttempts.map((attempt) => macCandidate(uuid, index, oneByte, attempt)));
        const result = deterministicMac({ vmUuid: uuid, index, prefix: oneByte, isTaken: (mac) => taken.has(mac) });
        let expected = 0;
        while (takenAttempts.includes(expected)) expected++;
        assert.deepEqual(result, { mac: macCandidate(uuid, index, oneByte, expected), collisions: expected });
        assert.equal(taken.has(result.mac), false);
      }));
    });

    it('never returns a MAC another VIF of the host holds', () => {
      fc.assert(fc.property(fc.uuid(), vifIndex, fc.integer({ min: 1, max: 10 }), (uuid, index, takenCount) => {
        const taken = new Set<string>();
        const isTaken = (mac: string): boolean => taken.has(mac);
        for (let i = 0; i < takenCount; i++) taken.add(deterministicMac({ vmUuid: uuid, index, prefix: oneByte, isTaken }).mac);
        const result = deterministicMac({ vmUuid: uuid, index, prefix: oneByte, isTaken });
        assert.equal(taken.has(result.mac), false);
        assert.equal(result.collisions, takenCount);
      }));
    });

    it('keeps any valid explicit MAC, lowercased', () => {
      fc.assert(fc.property(fc.uuid(), vifIndex, unicastMacText, (uuid, index, explicit) => {
        assert.deepEqual(chooseMac({ vmUuid: uuid, index, prefix: kvm, explicit }), { mac: explicit.toLowerCase(), collisions: 0, source: 'explicit' });
      }));
    });
  });
});
