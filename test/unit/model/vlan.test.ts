import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertInvalidInput } from './assert-invalid.js';
import { formatTrunks, parseTrunks, parseVlanId, validateVlanSettings } from '../../../src/model/vlan.js';

const rejects = assertInvalidInput;

describe('model/vlan: VLAN ids, trunks and modes', () => {
  describe('parseVlanId', () => {
    it('accepts 1-4094 as integers or decimal text', () => {
      assert.equal(parseVlanId(1), 1);
      assert.equal(parseVlanId(4094), 4094);
      assert.equal(parseVlanId('100'), 100);
    });
    for (const input of [0, 4095, -1, '0', '4095', 70000]) {
      it(`rejects ${JSON.stringify(input)} as out of range`, () => rejects(() => parseVlanId(input), /is outside 1-4094/, 'vlan'));
    }
    for (const input of [1.5, '', ' 100', '100 ', '1e2', '0x64', 'x', '0100', '+100', '-5', null, true, [100], Number.NaN]) {
      it(`rejects ${JSON.stringify(input)} as not a VLAN id`, () => rejects(() => parseVlanId(input), /is not a VLAN id/, 'vlan'));
    }
    it('quotes the offending text and the caller\'s field', () => {
      rejects(() => parseVlanId('4095', 'networks.prod.vlan'), /^networks\.prod\.vlan: "4095" is outside 1-4094$/, 'networks.prod.vlan');
    });
  });

  describe('parseTrunks', () => {
    it('reads lists and inclusive ranges, sorted', () => {
      assert.deepEqual(parseTrunks('200-202,100'), [100, 200, 201, 202]);
      assert.deepEqual(parseTrunks('100, 200'), [100, 200]);
      assert.deepEqual(parseTrunks([300, '100', '5-6']), [5, 6, 100, 300]);
      assert.deepEqual(parseTrunks(7), [7]);
      assert.deepEqual(parseTrunks('1-4094').length, 4094);
    });
    for (const [input, pattern] of [
      ['100,100', /VLAN 100 is listed twice/], ['100-110,105', /VLAN 105 is listed twice/], ['1-5,5-9', /VLAN 5 is listed twice/],
      ['210-200', /range "210-200" runs backwards/], ['100,,200', /has an empty item/], ['', /trunk list is empty/],
      ['100,', /has an empty item/], ['1-2-3', /is not a VLAN range/], ['a-b', /"a" is not a VLAN id/], ['0-5', /"0" is outside/],
      ['4000-4095', /"4095" is outside/], ['100;200', /is not a VLAN id/], ['abc', /"abc" is not a VLAN id/],
    ] as const) {
      it(`rejects ${JSON.stringify(input)}`, () => rejects(() => parseTrunks(input), pattern, 'trunks'));
    }
    it('rejects an empty array and non-lists', () => {
      rejects(() => parseTrunks([]), /trunk list is empty/, 'trunks');
      rejects(() => parseTrunks({ a: 1 }), /expected a VLAN list/, 'trunks');
      rejects(() => parseTrunks([100, 100]), /VLAN 100 is listed twice/, 'trunks');
    });
  });

  describe('formatTrunks', () => {
    it('writes the shortest form', () => {
      assert.equal(formatTrunks([100, 200, 201, 202, 300]), '100,200-202,300');
      assert.equal(formatTrunks([5]), '5');
      assert.equal(formatTrunks([]), '');
    });
    it('round-trips through parseTrunks for any set of VLANs', () => {
      fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 4094 }), { minLength: 1, maxLength: 300 }), (ids) => {
        assert.deepEqual(parseTrunks(formatTrunks(ids)), [...ids].sort((a, b) => a - b));
      }));
    });
  });

  describe('validateVlanSettings', () => {
    it('infers access from a tag and trunk from trunks', () => {
      assert.deepEqual(validateVlanSettings({ tag: 100 }), { mode: 'access', tag: 100 });
      assert.deepEqual(validateVlanSettings({ trunks: '100-101' }), { mode: 'trunk', trunks: [100, 101] });
      assert.deepEqual(validateVlanSettings({}), { mode: 'none' });
    });
    it('accepts the native modes with a tag and optional trunks', () => {
      assert.deepEqual(validateVlanSettings({ mode: 'native-untagged', tag: 10, trunks: '20' }), { mode: 'native-untagged', tag: 10, trunks: [20] });
      assert.deepEqual(validateVlanSettings({ mode: 'native-tagged', tag: '10' }), { mode: 'native-tagged', tag: 10 });
    });
    const cases: [Parameters<typeof validateVlanSettings>[0], RegExp, string][] = [
      [{ mode: 'access' }, /access mode needs a VLAN tag/, 'net.vlan'],
      [{ mode: 'access', tag: 5, trunks: '6' }, /access mode carries one VLAN/, 'net.trunks'],
      [{ mode: 'trunk' }, /trunk mode needs a trunk list/, 'net.trunks'],
      [{ mode: 'trunk', tag: 5, trunks: '6' }, /trunk mode takes no VLAN tag/, 'net.vlan'],
      [{ mode: 'native-tagged', trunks: '6' }, /native-tagged mode needs a VLAN tag/, 'net.vlan'],
      [{ tag: 5, trunks: '6' }, /need vlan_mode native-tagged or native-untagged/, 'net.vlan_mode'],
      [{ mode: 'dot1q' }, /"dot1q" is not a VLAN mode/, 'net.vlan_mode'],
      [{ tag: 4095 }, /"?4095"? is outside/, 'net.vlan'],
      [{ trunks: '5,5' }, /VLAN 5 is listed twice/, 'net.trunks'],
    ];
    for (const [input, pattern, field] of cases) {
      it(`rejects ${JSON.stringify(input)} naming ${field}`, () => rejects(() => validateVlanSettings(input, 'net.'), pattern, field));
    }
  });
});
