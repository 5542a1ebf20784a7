import assert from 'node:assert/strict';
import {
  ConfigError, InvalidInputError, LimitExceededError, VifdError, describeValue, mergeContext, withErrorContext,
} from '../../../src/model/errors.js';
import { parseVifIndex, parseVmUuid } from '../../../src/model/ids.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';

describe('model/errors: errors that name what they are about', () => {
  it('names the VM, the VIF and the field', () => {
    const error = new InvalidInputError('"4095" is outside 1-4094', { domain: 'web1', vifIndex: 2, field: 'vlan' });
    assert.equal(error.message, 'VM "web1" VIF 2: vlan: "4095" is outside 1-4094');
    assert.equal(error.detail, '"4095" is outside 1-4094');
    assert.equal(error.name, 'InvalidInputError');
    assert.equal(error.code, 'invalid-input');
    assert.ok(error instanceof VifdError && error instanceof Error);
  });

  it('says only what it knows', () => {
    assert.equal(new InvalidInputError('bad').message, 'bad');
    assert.equal(new InvalidInputError('bad', { field: 'mac' }).message, 'mac: bad');
    assert.equal(new InvalidInputError('bad', { vifIndex: 0 }).message, 'VIF 0: bad');
    assert.equal(new InvalidInputError('bad', { vmUuid: UUID, vifIndex: 1 }).message, `VM ${UUID} VIF 1: bad`);
  });

  it('falls back to the UUID when the name is unknown, and prefers the name', () => {
    assert.equal(new InvalidInputError('bad', { vmUuid: 'abc', field: 'mac' }).message, 'VM abc: mac: bad');
    assert.equal(new InvalidInputError('bad', { domain: 'web1', vmUuid: UUID }).message, 'VM "web1": bad');
  });

  it('quotes and escapes untrusted names and odd UUIDs so a message stays one line', () => {
    assert.equal(new InvalidInputError('bad', { domain: 'a"b\nc' }).message, 'VM "a\\"b\\nc": bad');
    assert.equal(new InvalidInputError('bad', { vmUuid: 'x\ny' }).message, 'VM "x\\ny": bad');
    assert.equal(new InvalidInputError('bad', { vmUuid: 'a b' }).message, 'VM "a b": bad');
  });

  it('keeps the cause and the offending value, which the message already shows', () => {
    const root = new Error('root');
    const error = new InvalidInputError('"x" is not a VLAN id', { field: 'vlan', value: 'x' }, { cause: root });
    assert.equal(error.cause, root);
    assert.equal(error.context.value, 'x');
    assert.equal(error.message, 'vlan: "x" is not a VLAN id');
    assert.equal(new InvalidInputError('bad').cause, undefined);
  });

  it('adds context from outer layers without losing what it knew', () => {
    const inner = new InvalidInputError('"x" is not a VLAN id', { field: 'vlan', value: 'x' }, { cause: new Error('root') });
    const outer = inner.withContext({ domain: 'web1', vifIndex: 0, field: 'ignored' });
    assert.ok(outer instanceof InvalidInputError);
    assert.equal(outer.message, 'VM "web1" VIF 0: vlan: "x" is not a VLAN id');
    assert.equal(outer.context.value, 'x');
    assert.equal((outer.cause as Error).message, 'root');
  });

  it('does not let a key the error holds as undefined erase what outer layers know', () => {
    const inner = new InvalidInputError('bad', { field: 'mac', vifIndex: undefined });
    assert.equal(inner.withContext({ vifIndex: 3 }).message, 'VIF 3: mac: bad');
    assert.deepEqual(mergeContext({ domain: 'a', field: 'x' }, { domain: undefined, field: 'y' }), { domain: 'a', field: 'y' });
  });

  it('keeps the subclass through withContext', () => {
    assert.ok(new LimitExceededError('too many').withContext({ domain: 'a' }) instanceof LimitExceededError);
    assert.ok(new ConfigError('bad', { field: 'log.level' }).withContext({ source: 'f' }) instanceof ConfigError);
  });

  describe('withErrorContext', () => {
    it('adds the VM and VIF to a VifdError thrown inside', () => {
      assert.throws(() => withErrorContext({ vmUuid: UUID, vifIndex: 4 }, () => parseVifIndex('x')), {
        name: 'InvalidInputError', message: `VM ${UUID} VIF 4: index: "x" is not a VIF index (an integer 0-999)`,
      });
    });
    it('returns what the work returns', () => assert.equal(withErrorContext({ domain: 'a' }, () => 42), 42));
    it('passes other errors through untouched', () => {
      const bug = new TypeError('a bug, not bad input');
      assert.throws(() => withErrorContext({ domain: 'a' }, () => { throw bug; }), (error: unknown) => error === bug);
    });
  });

  it('gives each kind its code', () => {
    assert.equal(new InvalidInputError('x').code, 'invalid-input');
    assert.equal(new LimitExceededError('x').code, 'limit-exceeded');
    assert.equal(new ConfigError('x').code, 'config');
    assert.equal(new LimitExceededError('x').name, 'LimitExceededError');
  });

  it('gives config errors their path and source', () => {
    const error = new ConfigError('"seven" is not a number', { field: 'vif_limit.default' }).withContext({ source: '/etc/vifd/vifd.yaml' });
    assert.ok(error instanceof ConfigError);
    assert.equal(error.path, 'vif_limit.default');
    assert.equal(error.message, '/etc/vifd/vifd.yaml: vif_limit.default: "seven" is not a number');
    assert.equal(new ConfigError('not YAML', { source: 'f' }).path, '');
  });

  it('shows values quoted, escaped and bounded', () => {
    assert.equal(describeValue('a"b\nc'), '"a\\"b\\nc"');
    assert.equal(describeValue(undefined), 'nothing');
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue(12), '12');
    assert.equal(describeValue(Number.NaN), 'NaN');
    assert.equal(describeValue(Number.NEGATIVE_INFINITY), '-Infinity');
    assert.equal(describeValue([1, 'a']), '[1,"a"]');
    assert.equal(describeValue({ a: 1 }), '{"a":1}');
    assert.equal(describeValue('x'.repeat(200)).length, 80);
    assert.ok(describeValue('x'.repeat(200)).endsWith('…'));
    assert.equal(describeValue(10n), '[object BigInt]');
    assert.equal(describeValue(() => 1), 'a function');
    assert.equal(describeValue(Symbol('s')), 'a symbol');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(describeValue(cyclic), '[object Object]');
  });

  describe('ids: UUIDs and VIF indices from VM definitions', () => {
    it('accepts canonical UUIDs in any case and lowercases them', () => {
      assert.equal(parseVmUuid('6F1E2C3A-8B4D-4E5F-9A0B-1C2D3E4F5A6B'), UUID);
      assert.equal(parseVmUuid(UUID), UUID);
    });
    for (const bad of ['', '6f1e2c3a8b4d4e5f9a0b1c2d3e4f5a6b', `{${UUID}}`, `urn:uuid:${UUID}`, 'g'.repeat(36), `${UUID}\n`, ` ${UUID}`, 42, null]) {
      it(`refuses the UUID ${describeValue(bad)}`, () => {
        assert.throws(() => parseVmUuid(bad, 'domain.uuid'), (error: unknown) =>
          error instanceof InvalidInputError && error.context.field === 'domain.uuid' && error.context.value === bad
          && /^domain\.uuid: .* is not a UUID \(expected 8-4-4-4-12 hex digits\)$/.test(error.message));
      });
    }
    it('accepts VIF indices 0-999 and refuses the rest', () => {
      assert.equal(parseVifIndex(0), 0);
      assert.equal(parseVifIndex(999), 999);
      for (const bad of ['1', 1000, -1, 0.5, Number.NaN, null]) {
        assert.throws(() => parseVifIndex(bad), (error: unknown) =>
          error instanceof InvalidInputError && error.context.field === 'index' && /is not a VIF index \(an integer 0-999\)/.test(error.message));
      }
    });
  });
});
