import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertXenstorePath, escapeXenstoreValue, unescapeXenstoreValue } from '../../../src/sources/xen-hotplug/xenstore.js';
import { assertInvalidInput } from '../model/assert-invalid.js';

describe('sources/xen-hotplug/xenstore: paths and the escaping of xenstore-read/-write', () => {
  it('undoes xenstore-read\'s escapes', () => {
    assert.equal(unescapeXenstoreValue('xenbr0\\nevil'), 'xenbr0\nevil');
    assert.equal(unescapeXenstoreValue('a\\\\b\\tc\\rd\\033e'), 'a\\b\tc\rd\u001be');
    assert.equal(unescapeXenstoreValue('plain'), 'plain');
  });

  it('escapes what xenstore-write unescapes', () => {
    assert.equal(escapeXenstoreValue('a\\b\nc\u0001'), 'a\\\\b\\nc\\001');
  });

  it('escape then unescape is the identity on text (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary-ascii' }), (value) => { assert.equal(unescapeXenstoreValue(escapeXenstoreValue(value)), value); }));
  });

  it('an escaped value holds no newline, so one line is one value (property)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary-ascii' }), (value) => { assert.ok(!escapeXenstoreValue(value).includes('\n')); }));
  });

  for (const path of ['backend/vif/7/0/bridge', '/local/domain/7/vm', '/xapi/3f2504e0-4f89-11d3-9a0c-0305e82c3301/private/vif/0', '@introduceDomain']) {
    it(`accepts the path ${path}`, () => assert.equal(assertXenstorePath(path), path));
  }
  for (const path of ['', '/', '-r', 'a//b', 'a/', '../x', 'a/./b', 'a b', 'a;b', 'a\nb']) {
    it(`refuses the path ${JSON.stringify(path)}`, () => assertInvalidInput(() => assertXenstorePath(path), /is not a xenstore path/, 'xenstore path'));
  }
});
