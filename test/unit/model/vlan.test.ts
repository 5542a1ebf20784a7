import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertInvalidInput } from './assert-invalid.js';
import { InvalidInputError, describeValue } from '../../../src/model/errors.js';
import { MAX_VLAN, MIN_VLAN, VLAN_MODES, formatTrunks, parseTrunks, parseVlanId, validateVlanSettings } from '../../../src/model/vlan.js';

const rejects = assertInvalidInput;
const vlanIds = (options: { minLength?: number; maxLength?: number } = {}): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: MIN_VLAN, max: MAX_VLAN }), { minLength: 1, maxLength: 300, ...options });
const ascending = (ids: readonly number[]): number[] => [...ids].sort((a, b) => a - b);

describe('model/vlan: VLAN ids, trunks and modes', () => {
  describe('parseVlanId', () => {
    it('accepts 1-4094 as integers or decimal text', () => {
      assert.deepEqual([MIN_VLAN, MAX_VLAN], [1, 4094]);
      assert.equal(parseVlanId(1), 1);
      assert.equal(parseVlanId(4094), 4094);
      assert.equal(parseVlanId('100'), 100);
      assert.equal(parseVlanId('4094'), 4094);
    });
    for (const input of [0, 4095, -1, '0', '4095', 70000, '99999999999999999999']) {
      it(`rejects ${JSON.stringify(input)} as out of range`, () => rejects(() => parseVlanId(input), /is outside 1-4094/, 'vlan'));
    }
    for (const input of [
      1.5, '1.0', '', ' 100', '100 ', '1e2', '0x64', 'x', '0100', '00', '+100', '-5', '-0', '１００', '100\n', '1_000',
      null, undefined, true, [100], { id: 100 }, Number.NaN, Number.POSITIVE_INFINITY,
    ]) {
      it(`rejects ${describeValue(input)} as not a VLAN id`, () => rejects(() => parseVlanId(input), /is not a VLAN id \(an integer 1-4094\)/, 'vlan'));
    }
    it('quotes the offending text, names the caller\'s field and keeps the value', () => {
      rejects(() => parseVlanId('4095', 'networks.prod.vlan'), /^networks\.prod\.vlan: "4095" is outside 1-4094$/, 'networks.prod.vlan');
      rejects(() => parseVlanId(4095, 'vlan'), /^vlan: 4095 is outside 1-4094$/, 'vlan');
      rejects(() => parseVlanId('0x64'), /^vlan: "0x64" is not a VLAN id/, 'vlan');
      assert.throws(() => parseVlanId(' 100'), (error: unknown) => error instanceof InvalidInputError && error.context.value === ' 100');
    });
  });

  describe('parseTrunks', () => {
    it('reads lists and inclusive ranges, sorted', () => {
      assert.deepEqual(parseTrunks('200-202,100'), [100, 200, 201, 202]);
      assert.deepEqual(parseTrunks('100, 200'), [100, 200]);
      assert.deepEqual(parseTrunks(' 100 , 200 - 201 '), [100, 200, 201]);
      assert.deepEqual(parseTrunks('5-5'), [5]);
      assert.deepEqual(parseTrunks([300, '100', '5-6']), [5, 6, 100, 300]);
      assert.deepEqual(parseTrunks(7), [7]);
      assert.deepEqual(parseTrunks('4094'), [4094]);
    });
    it('expands up to every VLAN', () => {
      const all = parseTrunks('1-4094');
      assert.equal(all.length, 4094);
      assert.equal(all[0], 1);
      assert.equal(all[4093], 4094);
    });
    for (const [input, pattern] of [
      ['100,100', /^trunks: VLAN 100 is listed twice in "100,100"$/], ['100-110,105', /VLAN 105 is listed twice/],
      ['1-5,5-9', /VLAN 5 is listed twice/], ['100-110,90-100', /VLAN 100 is listed twice/],
      ['210-200', /range "210-200" runs backwards/], ['100,,200', /"100,,200" has an empty item/], ['', /the trunk list is empty/],
      ['100,', /has an empty item/], [',100', /has an empty item/], ['100, ,200', /has an empty item/], ['  ', /has an empty item/],
      ['1-2-3', /"1-2-3" is not a VLAN range \(like 200-210\)/], ['100-', /"" is not a VLAN id/], ['-100', /"" is not a VLAN id/],
      ['a-b', /"a" is not a VLAN id/], ['0-5', /"0" is outside/], ['4000-4095', /"4095" is outside/],
      ['100;200', /"100;200" is not a VLAN id/], ['100 200', /"100 200" is not a VLAN id/], ['abc', /"abc" is not a VLAN id/],
      ['1e2', /"1e2" is not a VLAN id/], ['0x64', /"0x64" is not a VLAN id/], ['1.5', /"1.5" is not a VLAN id/],
    ] as const) {
      it(`rejects ${JSON.stringify(input)}`, () => rejects(() => parseTrunks(input), pattern, 'trunks'));
    }
    for (const [input, pattern] of [
      [[], /trunk list is empty/], [[100, 100], /VLAN 100 is listed twice/], [['100-110', '105-120'], /VLAN 105 is listed twice/],
      [[100, 'x'], /"x" is not a VLAN id/], [[100, 1.5], /1\.5 is not a VLAN id/], [[100, null], /null is not a VLAN id/],
      [['210-200'], /runs backwards/], [['100,200'], /"100,200" is not a VLAN id/], [[100, ''], /has an empty item/], [[[100]], /is not a VLAN id/],
      [{ a: 1 }, /expected a VLAN list like "100,200-210", got \{"a":1\}/], [null, /expected a VLAN list/], [true, /expected a VLAN list/],
      [0, /0 is outside 1-4094/], [1.5, /1\.5 is not a VLAN id/],
    ] as const) {
      it(`rejects ${JSON.stringify(input)}`, () => rejects(() => parseTrunks(input), pattern, 'trunks'));
    }
    it('names the caller\'s field', () => rejects(() => parseTrunks('5,5', 'networks.s.trunks'), /^networks\.s\.trunks: VLAN 5/, 'networks.s.trunks'));
  });

  describe('formatTrunks', () => {
    it('writes the shortest form', () => {
      assert.equal(formatTrunks([100, 200, 201, 202, 300]), '100,200-202,300');
      assert.equal(formatTrunks([5]), '5');
      assert.equal(formatTrunks([5, 6]), '5-6');
      assert.equal(formatTrunks([]), '');
      assert.equal(formatTrunks([5, 3, 4, 4]), '3-5');
      assert.equal(formatTrunks(parseTrunks('1-4094')), '1-4094');
    });
    it('round-trips through parseTrunks for any set of VLANs', () => {
      fc.assert(fc.property(vlanIds(), (ids) => assert.deepEqual(parseTrunks(formatTrunks(ids)), ascending(ids))));
    });
    it('round-trips dense sets, where ranges form', () => {
      const dense = fc.integer({ min: 1, max: 4000 }).chain((base) => fc.uniqueArray(fc.integer({ min: base, max: base + 60 }), { minLength: 1, maxLength: 61 }));
      fc.assert(fc.property(dense, (ids) => {
        const text = formatTrunks(ids);
        assert.deepEqual(parseTrunks(text), ascending(ids));
        assert.equal(formatTrunks(parseTrunks(text)), text);
        for (const part of text.split(',')) {
          const [low, high] = part.split('-').map(Number);
          assert.ok(high === undefined || (low !== undefined && low < high), `no single-VLAN range in ${text}`);
        }
      }));
    });
    it('reads an array of numbers the same as their text', () => {
      fc.assert(fc.property(vlanIds({ maxLength: 50 }), (ids) => assert.deepEqual(parseTrunks(ids), parseTrunks(ids.join(',')))));
    });
  });

  describe('validateVlanSettings', () => {
    it('lists the Open vSwitch modes', () => assert.deepEqual(VLAN_MODES, ['access', 'trunk', 'native-tagged', 'native-untagged']));
    it('infers access from a tag, trunk from trunks and no VLAN from neither', () => {
      assert.deepEqual(validateVlanSettings({ tag: 100 }), { mode: 'access', tag: 100 });
      assert.deepEqual(validateVlanSettings({ tag: '100' }), { mode: 'access', tag: 100 });
      assert.deepEqual(validateVlanSettings({ trunks: '100-101' }), { mode: 'trunk', trunks: [100, 101] });
      assert.deepEqual(validateVlanSettings({ trunks: [7, '5'] }), { mode: 'trunk', trunks: [5, 7] });
      assert.deepEqual(validateVlanSettings({}), { mode: 'none' });
    });
    it('accepts each explicit mode with what it needs', () => {
      assert.deepEqual(validateVlanSettings({ mode: 'access', tag: 5 }), { mode: 'access', tag: 5 });
      assert.deepEqual(validateVlanSettings({ mode: 'trunk', trunks: '5,7' }), { mode: 'trunk', trunks: [5, 7] });
      assert.deepEqual(validateVlanSettings({ mode: 'native-untagged', tag: 10, trunks: '20' }), { mode: 'native-untagged', tag: 10, trunks: [20] });
      assert.deepEqual(validateVlanSettings({ mode: 'native-tagged', tag: '10' }), { mode: 'native-tagged', tag: 10 });
      assert.deepEqual(validateVlanSettings({ mode: 'native-untagged', tag: 10 }), { mode: 'native-untagged', tag: 10 });
    });
    it('names fields without a prefix too', () => {
      rejects(() => validateVlanSettings({ tag: 0 }), /^vlan: 0 is outside/, 'vlan');
      rejects(() => validateVlanSettings({ mode: 'trunk' }), /^trunks: trunk mode needs a trunk list$/, 'trunks');
      rejects(() => validateVlanSettings({ mode: 'Access', tag: 1 }), /^vlan_mode: "Access" is not a VLAN mode \(access, trunk, native-tagged, native-untagged\)$/, 'vlan_mode');
    });
    const cases: [Parameters<typeof validateVlanSettings>[0], RegExp, string][] = [
      [{ mode: 'access' }, /access mode needs a VLAN tag/, 'net.vlan'],
      [{ mode: 'access', trunks: '6' }, /access mode needs a VLAN tag/, 'net.vlan'],
      [{ mode: 'access', tag: 5, trunks: '6' }, /access mode carries one VLAN; remove trunks or use a native mode/, 'net.trunks'],
      [{ mode: 'trunk' }, /trunk mode needs a trunk list/, 'net.trunks'],
      [{ mode: 'trunk', tag: 5 }, /trunk mode needs a trunk list/, 'net.trunks'],
      [{ mode: 'trunk', tag: 5, trunks: '6' }, /trunk mode takes no VLAN tag/, 'net.vlan'],
      [{ mode: 'native-tagged', trunks: '6' }, /native-tagged mode needs a VLAN tag \(the native VLAN\)/, 'net.vlan'],
      [{ mode: 'native-untagged' }, /native-untagged mode needs a VLAN tag/, 'net.vlan'],
      [{ tag: 5, trunks: '6' }, /a VLAN tag and trunks together need vlan_mode native-tagged or native-untagged/, 'net.vlan_mode'],
      [{ mode: 'dot1q' }, /"dot1q" is not a VLAN mode/, 'net.vlan_mode'],
      [{ mode: 5, tag: 5 }, /5 is not a VLAN mode/, 'net.vlan_mode'],
      [{ mode: null, tag: 5 }, /null is not a VLAN mode/, 'net.vlan_mode'],
      [{ tag: 4095 }, /4095 is outside/, 'net.vlan'],
      [{ tag: 'ten' }, /"ten" is not a VLAN id/, 'net.vlan'],
      [{ trunks: '5,5' }, /VLAN 5 is listed twice/, 'net.trunks'],
      [{ mode: 'native-tagged', tag: 5, trunks: '' }, /the trunk list is empty/, 'net.trunks'],
    ];
    for (const [input, pattern, field] of cases) {
      it(`rejects ${JSON.stringify(input)} naming ${field}`, () => rejects(() => validateVlanSettings(input, 'net.'), pattern, field));
    }
  });
});
