import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertInvalidInput } from './assert-invalid.js';
import { anyCaseUuid, vifIndex } from './property-arbitraries.js';
import { InvalidInputError } from '../../../src/model/errors.js';
import {
  DEVICE_NAME_SCHEME_VERSION, MAX_INTERFACE_NAME_BYTES, MAX_VIF_INDEX, MAX_XEN_DOMID, assertValidInterfaceName, deviceName,
  isValidInterfaceName, parseXenBackendName,
} from '../../../src/model/names.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';

describe('model/names: device names (invariant 5)', () => {
  // Golden vectors: the first 9 characters of lowercase RFC 4648 base32 of sha256('<uuid>'),
  // computed in a shell independently of this code:
  //   printf '%s' '<uuid>' | sha256sum | cut -c1-64 | xxd -r -p | base32 | tr A-Z a-z | cut -c1-9
  // A change here renames devices on running hosts: it needs a new DEVICE_NAME_SCHEME_VERSION.
  it('is pinned by golden vectors (scheme version 1)', () => {
    assert.equal(DEVICE_NAME_SCHEME_VERSION, 1);
    assert.equal(deviceName(UUID, 0), 'vdu2vyz32zb-0');
    assert.equal(deviceName('00000000-0000-0000-0000-000000000000', 6), 'vdck4to7f6p-6');
    assert.equal(deviceName('C0FFEE00-1234-4ABC-8DEF-0123456789AB', 42), 'vdaqprzoarh-42');
    // Time-based UUIDs made a moment apart share most characters; their names share none of the hash.
    assert.equal(deviceName('c232ab00-9414-11ec-b3c8-9f6bdeced846', 3), 'vdbyryx7duh-3');
    assert.equal(deviceName('c232ab01-9414-11ec-b3c8-9f6bdeced846', 3), 'vd4uktekvf4-3');
  });

  it('fits 15 bytes at the largest index', () => {
    assert.equal(MAX_VIF_INDEX, 999);
    assert.equal(MAX_INTERFACE_NAME_BYTES, 15);
    const name = deviceName(UUID, MAX_VIF_INDEX);
    assert.equal(name, 'vdu2vyz32zb-999');
    assert.equal(Buffer.byteLength(name), 15);
  });

  it('refuses an index or UUID it cannot name, naming the VM when it can', () => {
    assertInvalidInput(() => deviceName(UUID, 1000), new RegExp(`^VM ${UUID}: index: 1000 is not a VIF index \\(an integer 0-999\\)$`), 'index');
    assertInvalidInput(() => deviceName(UUID, -1), /-1 is not a VIF index/, 'index');
    assertInvalidInput(() => deviceName(UUID, 2.5), /2\.5 is not a VIF index/, 'index');
    assertInvalidInput(() => deviceName('web1', 0), /^uuid: "web1" is not a UUID/, 'uuid');
    assertInvalidInput(() => deviceName(`${UUID} `, 0), /is not a UUID/, 'uuid');
    assertInvalidInput(() => deviceName('', 0), /"" is not a UUID/, 'uuid');
  });

  describe('isValidInterfaceName', () => {
    for (const name of ['eth0', 'br-int', 'vdu2vyz32zb-999', 'a', 'x'.repeat(15), 'vif1.0', 'vif1.0-emu', 'br_prod@x', '...', '.a', 'A~!']) {
      it(`accepts ${JSON.stringify(name)}`, () => assert.ok(isValidInterfaceName(name)));
    }
    for (const name of [
      '', '.', '..', 'x'.repeat(16), 'br/0', 'br:0', 'br 0', ' br0', 'br0 ', 'br\t0', 'br\n0', 'br\r0', 'br\v0', 'br\f0',
      'br\u00000', 'br\u007f', 'br\u0001', 'brü', 'à', 'br\u00a00', 'ééééééééé', 'br\u{1f600}',
    ]) {
      it(`rejects ${JSON.stringify(name)}`, () => assert.equal(isValidInterfaceName(name), false));
    }
    for (const value of [7, null, undefined, ['br0'], { name: 'br0' }]) {
      it(`rejects the non-string ${JSON.stringify(value)}`, () => assert.equal(isValidInterfaceName(value), false));
    }
  });

  describe('assertValidInterfaceName', () => {
    it('returns a valid name', () => assert.equal(assertValidInterfaceName('br0', 'bridge'), 'br0'));
    it('counts bytes, not characters, and says why', () => {
      assertInvalidInput(() => assertValidInterfaceName('x'.repeat(16), 'bridge'), /^bridge: "x{16}" is 16 bytes; interface names have at most 15$/, 'bridge');
      assertInvalidInput(() => assertValidInterfaceName('é'.repeat(8), 'bridge'), /is 16 bytes; interface names have at most 15/, 'bridge');
      assertInvalidInput(() => assertValidInterfaceName('é'.repeat(7), 'bridge'), /"é{7}" is not a valid interface name \(1-15 printable ASCII bytes/, 'bridge');
    });
    for (const bad of ['a/b', 'a:b', 'a b', '.', '..', '', 'a\nb']) {
      it(`refuses ${JSON.stringify(bad)} with the reason and the field`, () => {
        assertInvalidInput(() => assertValidInterfaceName(bad, 'networks.prod.bridge'), /^networks\.prod\.bridge: ".*" is not a valid interface name/, 'networks.prod.bridge');
      });
    }
    it('escapes what it quotes and keeps the value', () => {
      assert.throws(() => assertValidInterfaceName('a\nb', 'bridge'), (error: unknown) =>
        error instanceof InvalidInputError && error.message.startsWith('bridge: "a\\nb" ') && error.context.value === 'a\nb');
      assertInvalidInput(() => assertValidInterfaceName(42, 'bridge'), /^bridge: 42 is not a valid interface name/, 'bridge');
    });
  });

  describe('parseXenBackendName', () => {
    it('reads vif<domid>.<devid>', () => {
      assert.deepEqual(parseXenBackendName('vif12.3'), { domid: 12, devid: 3 });
      assert.deepEqual(parseXenBackendName('vif0.0'), { domid: 0, devid: 0 });
      assert.deepEqual(parseXenBackendName(`vif${MAX_XEN_DOMID}.9999`), { domid: 32751, devid: 9999 });
    });
    for (const name of [
      'vif12', 'vif.3', 'vif12.', 'vif012.3', 'vif12.03', 'tap12.3', 'vif12.3.1', 'vif-1.0', 'vif123456.0', 'vif32752.0', 'vif99999.0',
      'vif1.0-emu', 'VIF1.0', ' vif1.0', 'vif1.0 ', 'vif1.10000', 'vif1,0', 'vifa.b', '',
    ]) {
      it(`is null for ${JSON.stringify(name)}`, () => assert.equal(parseXenBackendName(name), null));
    }
  });

  describe('properties', () => {
    it('is valid, at most 15 bytes, deterministic and case-insensitive in the UUID', () => {
      fc.assert(fc.property(anyCaseUuid, vifIndex, (uuid, index) => {
        const name = deviceName(uuid, index);
        assert.ok(isValidInterfaceName(name), name);
        assert.ok(Buffer.byteLength(name) <= MAX_INTERFACE_NAME_BYTES);
        assert.match(name, /^vd[a-z2-7]{9}-(0|[1-9]\d{0,2})$/);
        assert.equal(deviceName(uuid.toLowerCase(), index), name);
        assert.equal(deviceName(uuid.toUpperCase(), index), name);
        assert.ok(name.endsWith(`-${index}`));
      }));
    });
    it('never looks like a Xen backend', () => {
      fc.assert(fc.property(fc.uuid(), vifIndex, (uuid, index) => assert.equal(parseXenBackendName(deviceName(uuid, index)), null)));
    });
    it('gives distinct names to distinct indices of one VM', () => {
      fc.assert(fc.property(fc.uuid(), fc.uniqueArray(vifIndex, { minLength: 2, maxLength: 20 }), (uuid, indices) => {
        assert.equal(new Set(indices.map((index) => deviceName(uuid, index))).size, indices.length);
      }));
    });
    it('gives distinct names to distinct VMs', () => {
      fc.assert(fc.property(fc.uniqueArray(fc.uuid(), { minLength: 2, maxLength: 20 }), vifIndex, (uuids, index) => {
        assert.equal(new Set(uuids.map((uuid) => deviceName(uuid, index))).size, uuids.length);
      }));
    });
  });
});
