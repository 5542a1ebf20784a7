import assert from 'node:assert/strict';
import { InvalidInputError, LimitExceededError } from '../../../src/model/errors.js';
import { DEFAULT_VIF_LIMIT, assertVifCount, checkVifCount, parseVifLimit, resolveVifLimit } from '../../../src/model/limit.js';

describe('model/limit: the VIF limit (invariant 7)', () => {
  it('defaults to 7, as Xen does', () => {
    assert.equal(DEFAULT_VIF_LIMIT, 7);
    assert.deepEqual(resolveVifLimit({}), { limit: 7, source: 'builtin' });
  });

  it('takes the host default, then the VM override up to the host maximum', () => {
    assert.deepEqual(resolveVifLimit({ hostDefault: 4 }), { limit: 4, source: 'host' });
    assert.deepEqual(resolveVifLimit({ hostDefault: 4, hostMax: 16, vmOverride: '12' }), { limit: 12, source: 'vm' });
    assert.deepEqual(resolveVifLimit({ hostDefault: 4, hostMax: 16, vmOverride: 2 }), { limit: 2, source: 'vm' });
    assert.deepEqual(resolveVifLimit({ hostMax: 16, vmOverride: 16 }), { limit: 16, source: 'vm' });
  });

  it('refuses a VM override above the host maximum: VM definitions are untrusted', () => {
    assert.throws(() => resolveVifLimit({ hostDefault: 7, hostMax: 16, vmOverride: 17 }), (error: unknown) => {
      assert.ok(error instanceof LimitExceededError);
      assert.match(error.message, /^vif-limit: the VM asks for a limit of 17 VIFs; this host allows at most 16$/);
      return true;
    });
  });

  for (const input of [0, -1, 1.5, '', '0', '07', 'seven', '1e1', 1001, null, [3], '8 ']) {
    it(`rejects the override ${JSON.stringify(input)}`, () => {
      assert.throws(() => resolveVifLimit({ vmOverride: input }), (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.equal(error.context.field, 'vif-limit');
        assert.match(error.message, /is not a VIF limit \(an integer 1-1000\)/);
        return true;
      });
    });
  }

  it('parses limits as integers or decimal text', () => {
    assert.equal(parseVifLimit('8'), 8);
    assert.equal(parseVifLimit(1000), 1000);
  });

  it('allows up to the limit and refuses one more, with a one-line reason', () => {
    const limit = resolveVifLimit({});
    assert.deepEqual(checkVifCount({ vmName: 'web1', requested: 7, limit }), { ok: true });
    assert.deepEqual(checkVifCount({ vmName: 'web1', requested: 0, limit }), { ok: true });
    assert.deepEqual(checkVifCount({ vmName: 'web1', requested: 8, limit }),
      { ok: false, reason: 'VM "web1" asks for 8 VIFs; the limit is 7 (vifd\'s default, as Xen\'s)' });
    const host = checkVifCount({ vmName: 'db', requested: 5, limit: { limit: 4, source: 'host' } });
    assert.ok(!host.ok && host.reason.endsWith('the limit is 4 (host default)'));
    const vm = checkVifCount({ vmName: 'db', requested: 3, limit: { limit: 2, source: 'vm' } });
    assert.ok(!vm.ok && vm.reason.endsWith("the limit is 2 (the VM's own override)"));
  });

  it('quotes hostile VM names so the reason stays one line', () => {
    const verdict = checkVifCount({ vmName: 'evil"\n$(reboot)', requested: 8, limit: resolveVifLimit({}) });
    assert.ok(!verdict.ok);
    assert.equal(verdict.reason.includes('\n'), false);
    assert.match(verdict.reason, /^VM "evil\\"\\n\$\(reboot\)" asks for 8 VIFs/);
  });

  it('throws a LimitExceededError naming the VM for callers that refuse by throwing', () => {
    assert.doesNotThrow(() => { assertVifCount({ vmName: 'web1', requested: 7, limit: resolveVifLimit({}) }); });
    assert.throws(() => { assertVifCount({ vmName: 'web1', vmUuid: 'u', requested: 8, limit: resolveVifLimit({}) }); }, (error: unknown) => {
      assert.ok(error instanceof LimitExceededError);
      assert.equal(error.code, 'limit-exceeded');
      assert.equal(error.context.domain, 'web1');
      assert.match(error.message, /^VM "web1": asks for 8 VIFs; the limit is 7/);
      return true;
    });
  });
});
