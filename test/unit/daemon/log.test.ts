// Log lines: one event per line whatever a VM name holds, fields as key=value,
// the journald priority prefix under systemd.
import assert from 'node:assert/strict';
import { formatFields, formatLine } from '../../../src/daemon/log.js';

const NOW = new Date('2026-11-25T12:00:00.000Z');

describe('daemon/log: one event per line', () => {
  it('writes fields bare when safe and JSON-quoted otherwise', () => {
    assert.equal(formatFields({ vmUuid: '3f2504e0-4f89-11d3-9a0c-0305e82c3301', vifs: 7, ok: true, domain: 'a "b"\nc', skip: undefined }),
      'vmUuid=3f2504e0-4f89-11d3-9a0c-0305e82c3301 vifs=7 ok=true domain="a \\"b\\"\\nc"');
  });

  it('keeps a message with newlines on one line', () => {
    const line = formatLine('warn', 'refused: VM "x\ny"\r\n injected', { domain: 'x\ny' }, false, NOW);
    assert.equal(line, '2026-11-25T12:00:00.000Z warn refused: VM "x\\ny"\\n injected domain="x\\ny"');
    assert.equal(line.includes('\n'), false);
  });

  it('prefixes the syslog priority for journald instead of a timestamp', () => {
    assert.equal(formatLine('error', 'boom', {}, true, NOW), '<3>boom');
    assert.equal(formatLine('info', 'started', { networks: 2 }, true, NOW), '<6>started networks=2');
    assert.equal(formatLine('debug', 'event', {}, true, NOW), '<7>event');
  });
});
