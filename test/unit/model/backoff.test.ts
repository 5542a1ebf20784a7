import assert from 'node:assert/strict';
import { Backoff } from '../../../src/model/backoff.js';

describe('model/backoff: reconnect pacing', () => {
  it('doubles up to the cap and starts over after a reset', () => {
    const backoff = new Backoff(100, 500);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.next()), [100, 200, 400, 500, 500]);
    backoff.reset();
    assert.equal(backoff.next(), 100);
  });
});
