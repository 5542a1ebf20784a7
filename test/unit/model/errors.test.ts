import assert from 'node:assert/strict';
import { ConfigError, InvalidInputError, describeValue } from '../../../src/model/errors.js';
import { parseVifIndex, parseVmUuid } from '../../../src/model/ids.js';

describe('model/errors: errors that name what they are about', () => {
  it('names the VM, the VIF and the field', () => {
    const error = new InvalidInputError('"4095" is outside 1-4094', { domain: 'web1', vifIndex: 2, field: 'vlan' });
    assert.equal(error.message, 'VM "web1" VIF 2: vlan: "4095" is outside 1-4094');
    assert.equal(error.name, 'InvalidInputError');
    assert.equal(error.code, 'invalid-input');
  });

  it('falls back to the UUID when the name is unknown', () => {
    assert.equal(new InvalidInputError('bad', { vmUuid: 'abc', field: 'mac' }).message, 'VM abc: mac: bad');
  });

  it('adds context from outer layers without losing what it knew', () => {
    const inner = new InvalidInputError('"x" is not a VLAN id', { field: 'vlan' }, { cause: new Error('root') });
    const outer = inner.withContext({ domain: 'web1', vifIndex: 0, field: 'ignored' });
    assert.ok(outer instanceof InvalidInputError);
    assert.equal(outer.message, 'VM "web1" VIF 0: vlan: "x" is not a VLAN id');
    assert.equal((outer.cause as Error).message, 'root');
  });

  it('gives config errors their path and source', () => {
    const error = new ConfigError('"seven" is not a number', { field: 'vif_limit.default' }).withContext({ source: '/etc/vifd/vifd.yaml' });
    assert.ok(error instanceof ConfigError);
    assert.equal(error.path, 'vif_limit.default');
    assert.equal(error.message, '/etc/vifd/vifd.yaml: vif_limit.default: "seven" is not a number');
  });

  it('shows values quoted, escaped and bounded', () => {
    assert.equal(describeValue('a"b\nc'), '"a\\"b\\nc"');
    assert.equal(describeValue(undefined), 'nothing');
    assert.equal(describeValue(12), '12');
    assert.equal(describeValue('x'.repeat(200)).length, 80);
    assert.equal(describeValue(10n), '[object BigInt]');
  });

  it('validates UUIDs and VIF indices from VM definitions', () => {
    assert.equal(parseVmUuid('6F1E2C3A-8B4D-4E5F-9A0B-1C2D3E4F5A6B'), '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b');
    for (const bad of ['', '6f1e2c3a8b4d4e5f9a0b1c2d3e4f5a6b', '{6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b}', 'g'.repeat(36), 42]) {
      assert.throws(() => parseVmUuid(bad), /is not a UUID/);
    }
    assert.equal(parseVifIndex(0), 0);
    assert.throws(() => parseVifIndex('1'), /"1" is not a VIF index/);
  });
});
