import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidInputError } from '../../../src/model/errors.js';
import {
  DEVICE_NAME_SCHEME_VERSION, assertValidInterfaceName, deviceName, isValidInterfaceName, parseXenBackendName,
} from '../../../src/model/names.js';

describe('model/names: device names (invariant 5)', () => {
  // Golden vectors: base32 (RFC 4648, lowercase) of sha256('<uuid>'), computed with
  // Python's hashlib/base64 independently of this code. A change renames devices on running hosts.
  it('is pinned by golden vectors (scheme version 1)', () => {
    assert.equal(DEVICE_NAME_SCHEME_VERSION, 1);
    assert.equal(deviceName('6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b', 0), 'vdu2vyz32zb-0');
    assert.equal(deviceName('00000000-0000-0000-0000-000000000000', 6), 'vdck4to7f6p-6');
    assert.equal(deviceName('C0FFEE00-1234-4ABC-8DEF-0123456789AB', 42), 'vdaqprzoarh-42');
  });

  it('fits 15 bytes at the largest index', () => {
    const name = deviceName('6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b', 999);
    assert.equal(name, 'vdu2vyz32zb-999');
    assert.equal(Buffer.byteLength(name), 15);
  });

  it('refuses an index or UUID it cannot name', () => {
    assert.throws(() => deviceName('6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b', 1000), /1000 is not a VIF index/);
    assert.throws(() => deviceName('web1', 0), InvalidInputError);
  });

  describe('isValidInterfaceName', () => {
    for (const name of ['eth0', 'br-int', 'vdu2vyz32zb-999', 'a', 'x'.repeat(15), 'vif1.0', 'br_prod@x']) {
      it(`accepts ${JSON.stringify(name)}`, () => assert.ok(isValidInterfaceName(name)));
    }
    for (const name of ['', '.', '..', 'x'.repeat(16), 'br/0', 'br:0', 'br 0', 'br\t0', 'br\n0', 'br\u00000', 'brü', 'ééééééééé']) {
      it(`rejects ${JSON.stringify(name)}`, () => assert.equal(isValidInterfaceName(name), false));
    }
    it('rejects non-strings', () => assert.equal(isValidInterfaceName(7), false));
    it('counts bytes, not characters, and says why', () => {
      assert.throws(() => assertValidInterfaceName('x'.repeat(16), 'bridge'), /bridge: "x{16}" is 16 bytes; interface names have at most 15/);
      assert.throws(() => assertValidInterfaceName('a/b', 'bridge'), /bridge: "a\/b" is not a valid interface name/);
      assert.equal(assertValidInterfaceName('br0', 'bridge'), 'br0');
    });
  });

  describe('parseXenBackendName', () => {
    it('reads vif<domid>.<devid>', () => {
      assert.deepEqual(parseXenBackendName('vif12.3'), { domid: 12, devid: 3 });
      assert.deepEqual(parseXenBackendName('vif0.0'), { domid: 0, devid: 0 });
    });
    for (const name of ['vif12', 'vif.3', 'vif12.', 'vif012.3', 'vif12.03', 'tap12.3', 'vif12.3.1', 'vif-1.0', 'vif123456.0']) {
      it(`is null for ${name}`, () => assert.equal(parseXenBackendName(name), null));
    }
  });

  describe('properties', () => {
    it('is valid, at most 15 bytes, deterministic and case-insensitive in the UUID', () => {
      fc.assert(fc.property(fc.uuid(), fc.integer({ min: 0, max: 999 }), (uuid, index) => {
        const name = deviceName(uuid, index);
        assert.ok(isValidInterfaceName(name), name);
        assert.ok(Buffer.byteLength(name) <= 15);
        assert.equal(deviceName(uuid.toUpperCase(), index), name);
        assert.ok(name.endsWith(`-${index}`));
      }));
    });
    it('gives distinct names to distinct indices of one VM', () => {
      fc.assert(fc.property(fc.uuid(), fc.uniqueArray(fc.integer({ min: 0, max: 999 }), { minLength: 2, maxLength: 20 }), (uuid, indices) => {
        assert.equal(new Set(indices.map((index) => deviceName(uuid, index))).size, indices.length);
      }));
    });
  });
});
