import assert from 'node:assert/strict';
import sinon from 'sinon';
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

  it('pings the watchdog from a timer only when WatchdogSec= is set, and reports failures', () => {
    const saved = process.env.WATCHDOG_USEC;
    const clock = sinon.useFakeTimers();
    try {
      delete process.env.WATCHDOG_USEC;
      const unused = sinon.spy(() => true);
      startWatchdog(sinon.spy(), unused)();
      clock.tick(60_000);
      assert.equal(unused.callCount, 0, 'no WatchdogSec=, no pings');

      process.env.WATCHDOG_USEC = '30000000'; // WatchdogSec=30s: a ping every 15 s
      const send = sinon.stub<[], boolean>().returns(true);
      send.onSecondCall().throws(new Error('lost'));
      const onError = sinon.spy();
      const stop = startWatchdog(onError, send);
      clock.tick(14_999);
      assert.equal(send.callCount, 0);
      clock.tick(1);
      assert.equal(send.callCount, 1);
      clock.tick(30_000);
      assert.equal(send.callCount, 3, 'a failed ping does not stop the next ones');
      assert.deepEqual(onError.args.map(([error]) => (error as Error).message), ['lost']);
      stop();
      clock.tick(60_000);
      assert.equal(send.callCount, 3, 'no pings after stop');
    } finally {
      clock.restore();
      if (saved === undefined) delete process.env.WATCHDOG_USEC;
      else process.env.WATCHDOG_USEC = saved;
    }
  });
});
