import assert from 'node:assert/strict';
import { NotifyError, SystemdNotifier, socketAddress, startWatchdog, watchdogIntervalMs } from '../../../src/daemon/sd-notify.js';

describe('daemon/sd-notify: pure parts', () => {
  it('reads WatchdogSec= from WATCHDOG_USEC as half the interval, for the main pid only', () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, 42), null);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '1' }, 42), 1);
    for (const bad of [undefined, '', '0', '-5', '1e6', 'abc', '30s']) assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: bad }, 42), null, String(bad));
  });

  it('builds sockaddr_un for a path (NUL-terminated) and an abstract name (leading NUL, none after)', () => {
    assert.deepEqual([...socketAddress('/run/systemd/notify')], [1, 0, ...Buffer.from('/run/systemd/notify\0')]);
    assert.deepEqual([...socketAddress('@sd-abc')], [1, 0, 0, ...Buffer.from('sd-abc')]);
    assert.throws(() => socketAddress('relative/notify'), NotifyError);
    assert.throws(() => socketAddress(`/${'x'.repeat(107)}`), /longer than 108 bytes/);
    assert.equal(socketAddress(`/${'x'.repeat(106)}`).length, 110);
  });

  it('is a no-op without NOTIFY_SOCKET and opens no transport', () => {
    const notifier = new SystemdNotifier({ env: {} });
    assert.equal(notifier.ready(), false);
    assert.equal(notifier.reloading(), false);
    assert.equal(notifier.transport, null);
  });

  it('pings the watchdog from a timer only when WatchdogSec= is set, and reports failures', async () => {
    const saved = process.env.WATCHDOG_USEC;
    const errors: unknown[] = [];
    let pings = 0;
    try {
      delete process.env.WATCHDOG_USEC;
      startWatchdog((error) => errors.push(error), () => { pings += 1; return true; })();
      process.env.WATCHDOG_USEC = '20000'; // pings every 10 ms
      const stop = startWatchdog((error) => errors.push(error), () => { pings += 1; if (pings === 2) throw new Error('lost'); return true; });
      await new Promise((resolve) => setTimeout(resolve, 65));
      stop();
      const seen = pings;
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(pings, seen, 'no pings after stop');
      assert.ok(seen >= 3, `pings: ${seen}`);
      assert.deepEqual(errors.map((error) => (error as Error).message), ['lost']);
    } finally {
      if (saved === undefined) delete process.env.WATCHDOG_USEC;
      else process.env.WATCHDOG_USEC = saved;
    }
  });
});
