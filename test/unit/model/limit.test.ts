import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidInputError, LimitExceededError, describeValue } from '../../../src/model/errors.js';
import {
  DEFAULT_VIF_LIMIT, DEFAULT_VIF_LIMIT_MAX, MAX_VIF_LIMIT, assertVifCount, checkVifCount, parseVifLimit, resolveVifLimit,
} from '../../../src/model/limit.js';
import type { VifLimit } from '../../../src/model/limit.js';

const builtin: VifLimit = { limit: 7, source: 'builtin' };

function refusedOverride(settings: Parameters<typeof resolveVifLimit>[0], field: string, pattern: RegExp): void {
  assert.throws(() => resolveVifLimit(settings), (error: unknown) => {
    assert.ok(error instanceof LimitExceededError, `expected LimitExceededError, got ${String(error)}`);
    assert.equal(error.code, 'limit-exceeded');
    assert.equal(error.context.field, field);
    assert.equal(error.context.value, settings.vmOverride);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('model/limit: the VIF limit (invariant 7)', () => {
  it('defaults to 7, as Xen does, with room for every VIF index', () => {
    assert.equal(DEFAULT_VIF_LIMIT, 7);
    assert.equal(DEFAULT_VIF_LIMIT_MAX, 64);
    assert.equal(MAX_VIF_LIMIT, 1000);
    assert.deepEqual(resolveVifLimit({}), builtin);
  });

  describe('parseVifLimit', () => {
    it('reads positive integers, given as numbers or decimal text', () => {
      assert.equal(parseVifLimit(1), 1);
      assert.equal(parseVifLimit('8'), 8);
      assert.equal(parseVifLimit(1000), 1000);
      assert.equal(parseVifLimit('1000'), 1000);
    });
    for (const input of [0, -1, 1.5, '', '0', '07', '-3', '+3', 'seven', '1e1', '0x7', 1001, '1001', null, true, [3], '8 ', ' 8', Number.NaN]) {
      it(`rejects ${describeValue(input)}`, () => {
        assert.throws(() => parseVifLimit(input, 'metadata.vif-limit'), (error: unknown) => {
          assert.ok(error instanceof InvalidInputError);
          assert.equal(error.context.field, 'metadata.vif-limit');
          assert.equal(error.context.value, input);
          assert.equal(error.message, `metadata.vif-limit: ${describeValue(input)} is not a VIF limit (an integer 1-1000)`);
          return true;
        });
      });
    }
  });

  describe('resolveVifLimit', () => {
    it('takes the host default, then the VM override up to the host maximum', () => {
      assert.deepEqual(resolveVifLimit({ hostDefault: 4 }), { limit: 4, source: 'host' });
      assert.deepEqual(resolveVifLimit({ hostDefault: 4, hostMax: 16 }), { limit: 4, source: 'host' });
      assert.deepEqual(resolveVifLimit({ hostDefault: 4, hostMax: 16, vmOverride: '12' }), { limit: 12, source: 'vm' });
      assert.deepEqual(resolveVifLimit({ hostDefault: 4, hostMax: 16, vmOverride: 2 }), { limit: 2, source: 'vm' });
      assert.deepEqual(resolveVifLimit({ hostMax: 16, vmOverride: 16 }), { limit: 16, source: 'vm' });
      assert.deepEqual(resolveVifLimit({ hostDefault: undefined, hostMax: undefined, vmOverride: undefined }), builtin);
    });

    it('refuses a VM override above the host maximum: VM definitions are untrusted', () => {
      refusedOverride({ hostDefault: 7, hostMax: 16, vmOverride: 17 }, 'vif-limit', /^vif-limit: the VM asks for a limit of 17 VIFs; this host allows at most 16$/);
      refusedOverride({ hostMax: 1, vmOverride: '2' }, 'vif-limit', /this host allows at most 1$/);
    });

    it('caps overrides at the config\'s default maximum when the caller gives none', () => {
      assert.deepEqual(resolveVifLimit({ vmOverride: 64 }), { limit: 64, source: 'vm' });
      refusedOverride({ vmOverride: 65 }, 'vif-limit', /a limit of 65 VIFs; this host allows at most 64$/);
    });

    it('names the field the override came from', () => {
      refusedOverride({ hostMax: 8, vmOverride: '9', overrideField: 'other_config:vifd-vif-limit' }, 'other_config:vifd-vif-limit',
        /^other_config:vifd-vif-limit: the VM asks for a limit of 9 VIFs/);
      assert.throws(() => resolveVifLimit({ vmOverride: 'lots', overrideField: 'vifd:vif-limit' }), { message: /^vifd:vif-limit: "lots" is not a VIF limit/ });
    });

    for (const input of [0, -1, 1.5, '', '0', '07', 'seven', '1e1', 1001, null, [3], '8 ']) {
      it(`rejects the override ${describeValue(input)} as bad input, not as over the limit`, () => {
        assert.throws(() => resolveVifLimit({ hostMax: 1000, vmOverride: input }), (error: unknown) => {
          assert.ok(error instanceof InvalidInputError);
          assert.equal(error.context.field, 'vif-limit');
          assert.match(error.message, /is not a VIF limit \(an integer 1-1000\)/);
          return true;
        });
      });
    }

    it('never gives a VM more than the host allows', () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (hostMax, override) => {
        try {
          const resolved = resolveVifLimit({ hostDefault: 1, hostMax, vmOverride: String(override) });
          assert.ok(resolved.limit <= hostMax);
          assert.deepEqual(resolved, { limit: override, source: 'vm' });
        } catch (error) {
          assert.ok(error instanceof LimitExceededError && override > hostMax);
        }
      }));
    });
  });

  describe('checkVifCount', () => {
    it('allows up to the limit and refuses one more, with a one-line reason', () => {
      assert.deepEqual(checkVifCount({ vmName: 'web1', requested: 7, limit: builtin }), { ok: true });
      assert.deepEqual(checkVifCount({ vmName: 'web1', requested: 0, limit: builtin }), { ok: true });
      assert.deepEqual(checkVifCount({ vmName: 'web1', requested: 8, limit: builtin }),
        { ok: false, reason: 'VM "web1" asks for 8 VIFs; the limit is 7 (vifd\'s default, as Xen\'s)' });
    });

    it('says where the limit came from', () => {
      assert.deepEqual(checkVifCount({ vmName: 'web1', requested: 8, limit: { limit: 7, source: 'host' } }),
        { ok: false, reason: 'VM "web1" asks for 8 VIFs; the limit is 7 (host default)' });
      assert.deepEqual(checkVifCount({ vmName: 'db', vmUuid: 'u', requested: 3, limit: { limit: 2, source: 'vm' } }),
        { ok: false, reason: 'VM "db" asks for 3 VIFs; the limit is 2 (the VM\'s own override)' });
    });

    it('quotes hostile VM names so the reason stays one line', () => {
      const verdict = checkVifCount({ vmName: 'evil"\n$(reboot)', requested: 8, limit: builtin });
      assert.ok(!verdict.ok);
      assert.equal(verdict.reason.includes('\n'), false);
      assert.match(verdict.reason, /^VM "evil\\"\\n\$\(reboot\)" asks for 8 VIFs/);
    });

    it('agrees with the limit for any count', () => {
      fc.assert(fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 1000 }), (requested, limit) => {
        assert.equal(checkVifCount({ vmName: 'vm', requested, limit: { limit, source: 'host' } }).ok, requested <= limit);
      }));
    });
  });

  describe('assertVifCount', () => {
    it('passes within the limit', () => {
      assert.doesNotThrow(() => { assertVifCount({ vmName: 'web1', requested: 7, limit: builtin }); });
    });
    it('throws a LimitExceededError naming the VM for callers that refuse by throwing', () => {
      assert.throws(() => { assertVifCount({ vmName: 'web1', vmUuid: 'u', requested: 8, limit: { limit: 7, source: 'host' } }); }, (error: unknown) => {
        assert.ok(error instanceof LimitExceededError);
        assert.equal(error.code, 'limit-exceeded');
        assert.deepEqual(error.context, { domain: 'web1', vmUuid: 'u', value: 8 });
        assert.equal(error.message, 'VM "web1": asks for 8 VIFs; the limit is 7 (host default)');
        return true;
      });
    });
  });
});
