// The worker-thread loop driver: a failing libvirt iteration is followed by a
// growing pause (not by the next iteration at once, which spins), a good one
// resets it, and the loop ends once nobody wants it.
import assert from 'node:assert/strict';
import { driveEventLoop, failureBackoffMs } from '../../../src/libvirt/event-loop.js';
import type { RunOnce } from '../../../src/libvirt/event-loop.js';

describe('unit: the libvirt event loop driver', () => {
  it('pauses 10 ms doubling up to 1 s after failed iterations, and resets after a good one', async () => {
    const results = [-1, -1, -1, 0, -1, ...Array<number>(10).fill(-1), 0, 0];
    let calls = 0;
    const waits: number[] = [];
    const runOnce: RunOnce = (callback) => { const result = results[calls++] ?? 0; queueMicrotask(() => { callback(null, result); }); };
    await driveEventLoop(runOnce, () => calls < results.length, (ms, then) => { waits.push(ms); queueMicrotask(then); });
    assert.equal(calls, results.length);
    assert.deepEqual(waits, [10, 20, 40, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]);
  });

  it('counts an error from the async call as a failed iteration', async () => {
    let calls = 0;
    const waits: number[] = [];
    await driveEventLoop((callback) => { calls++; queueMicrotask(() => { callback(new Error('worker gone'), 0); }); },
      () => calls < 3, (ms, then) => { waits.push(ms); queueMicrotask(then); });
    assert.deepEqual(waits, [10, 20]);
  });

  it('stops after the iteration during which the last user left, without pausing', async () => {
    let calls = 0;
    let wanted = true;
    const waits: number[] = [];
    await driveEventLoop((callback) => { calls++; if (calls === 2) wanted = false; queueMicrotask(() => { callback(null, -1); }); },
      () => wanted, (ms, then) => { waits.push(ms); queueMicrotask(then); });
    assert.equal(calls, 2);
    assert.deepEqual(waits, [10]);
  });

  it('caps the pause at 1 s however long libvirt keeps failing', () => {
    assert.equal(failureBackoffMs(1), 10);
    assert.equal(failureBackoffMs(8), 1000);
    assert.equal(failureBackoffMs(1000), 1000);
  });
});
