import assert from 'node:assert/strict';
import { CLEAR_LINE, progressText, startProgress } from '../../../src/cli/progress.js';

describe('cli/progress: the waiting line', () => {
  it('counts whole seconds', () => {
    assert.equal(progressText('attaching', 0), 'attaching: waiting for vifd (0 s)');
    assert.equal(progressText('attaching', 2999), 'attaching: waiting for vifd (2 s)');
  });

  it('draws at once, redraws in place, and erases itself once on stop', async () => {
    const writes: string[] = [];
    let clock = 0;
    const stop = startProgress('detaching', { write: (text) => writes.push(text), intervalMs: 5, now: () => clock });
    clock = 1500;
    await new Promise((resolve) => setTimeout(resolve, 30));
    stop();
    stop();
    const count = writes.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(writes.length, count, 'no drawing after stop');
    assert.equal(writes[0], `${CLEAR_LINE}detaching: waiting for vifd (0 s)`);
    assert.equal(writes[1], `${CLEAR_LINE}detaching: waiting for vifd (1 s)`);
    assert.equal(writes.at(-1), CLEAR_LINE);
    assert.equal(writes.filter((text) => text === CLEAR_LINE).length, 1);
  });
});
