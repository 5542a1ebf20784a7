import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatXenBridge, parseBridgeName, parseXenBridge } from '../../../src/sources/xen-hotplug/bridge.js';
import { assertInvalidInput } from '../model/assert-invalid.js';

const FIELD = 'backend/vif/7/0/bridge';

describe('sources/xen-hotplug/bridge: BRIDGE[.VLAN][:TRUNK[:TRUNK...]]', () => {
  for (const [input, spec] of [
    ['xenbr0', { bridge: 'xenbr0' }],
    ['xapi3', { bridge: 'xapi3' }],
    ['br-ext_1', { bridge: 'br-ext_1' }],
    ['xenbr0.100', { bridge: 'xenbr0', vlan: 100 }],
    ['xenbr0.4094', { bridge: 'xenbr0', vlan: 4094 }],
    ['xenbr0:200', { bridge: 'xenbr0', trunks: [200] }],
    ['xenbr0:300:200', { bridge: 'xenbr0', trunks: [200, 300] }],
    ['xenbr0.100:200:300', { bridge: 'xenbr0', vlan: 100, trunks: [200, 300] }],
    ['a23456789012345', { bridge: 'a23456789012345' }],
  ] as const) {
    it(`reads ${JSON.stringify(input)}`, () => assert.deepEqual(parseXenBridge(input, FIELD), spec));
  }

  for (const [input, pattern] of [
    ['xenbr0;reboot', /^backend\/vif\/7\/0\/bridge: bridge name "xenbr0;reboot" holds ";"; a bridge name is letters, digits, "-" and "_"$/],
    ['$(reboot)', /holds "\$"/],
    ['`id`', /holds "`"/],
    ['xenbr0\nevil', /holds "\\n"/],
    ['xen br0', /holds " "/],
    ['xenbr0/x', /holds "\/"/],
    ['-xenbr0', /holds "-"/],
    ['', /bridge name "" is empty/],
    ['.100', /bridge name "" is empty/],
    ['b'.repeat(300), /is 300 bytes; a bridge name has at most 15/],
    ['b'.repeat(16), /is 16 bytes/],
    ['xenbr0.4095', /"4095" is outside 1-4094/],
    ['xenbr0.0', /"0" is outside 1-4094/],
    ['xenbr0.', /"" is not a VLAN id/],
    ['xenbr0.1.2', /"1.2" is not a VLAN id/],
    ['xenbr0.0100', /"0100" is not a VLAN id/],
    ['xenbr0:', /has an empty trunk VLAN/],
    ['xenbr0:100::200', /has an empty trunk VLAN/],
    ['xenbr0:100:100', /VLAN 100 is listed twice/],
    ['xenbr0:4095', /"4095" is outside 1-4094/],
    ['xenbr0:1-5', /"1-5" is not a VLAN id/],
    ['xenbr0:100.200', /"100.200" is not a VLAN id/],
  ] as const) {
    it(`refuses ${JSON.stringify(input.length > 40 ? `${input.slice(0, 20)}...` : input)} naming the field`, () => {
      assertInvalidInput(() => parseXenBridge(input, FIELD), pattern, FIELD);
    });
  }

  it('parseBridgeName keeps the value in the error context', () => {
    assert.throws(() => parseBridgeName('a;b', 'f'), (error: { context: { value: unknown } }) => error.context.value === 'a;b');
  });

  it('formatXenBridge reads back as the same spec (property)', () => {
    const spec = fc.record({
      bridge: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$/),
      vlan: fc.option(fc.integer({ min: 1, max: 4094 }), { nil: undefined }),
      trunks: fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 4094 }), { minLength: 1, maxLength: 20 }).map((ids) => ids.sort((a, b) => a - b)), { nil: undefined }),
    }).map(({ bridge, vlan, trunks }) => ({ bridge, ...(vlan === undefined ? {} : { vlan }), ...(trunks === undefined ? {} : { trunks }) }));
    fc.assert(fc.property(spec, (value) => { assert.deepEqual(parseXenBridge(formatXenBridge(value), FIELD), value); }));
  });

  it('never accepts a value holding a shell metacharacter or control character (property)', () => {
    const bad = fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom(';', '$', '`', '(', ')', '|', '&', '<', '>', '"', "'", '\\', '\n', '\t', ' ', '*', '?', '\u0000'), fc.string({ maxLength: 6 }))
      .map(([a, c, b]) => `${a}${c}${b}`);
    fc.assert(fc.property(bad, (value) => { assert.throws(() => parseXenBridge(value, FIELD)); }));
  });
});
