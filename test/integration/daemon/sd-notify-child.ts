// Run by sd-notify.test.ts as the notifying process: argv names the calls to
// make, in order. `--library NAME` uses a notifier that tries NAME instead of
// libsystemd.so.0 (a name that cannot load forces vifd's own datagram).
// Prints what each call returned, the transport and the watchdog interval.
import { SystemdNotifier, defaultNotifier, notifyReady, notifyReloading, notifyStopping, notifyWatchdog, watchdogIntervalMs } from '../../../src/daemon/sd-notify.js';

const args = process.argv.slice(2);
const libraryAt = args.indexOf('--library');
const calls = libraryAt >= 0 ? args.slice(0, libraryAt) : args;
const library = libraryAt >= 0 ? args[libraryAt + 1] : undefined;
const own = library === undefined ? null : new SystemdNotifier({ library });

const shared: Record<string, () => boolean> = { ready: notifyReady, watchdog: notifyWatchdog, reloading: notifyReloading, stopping: notifyStopping };
const viaOwn = (notifier: SystemdNotifier): Record<string, () => boolean> => ({
  ready: () => notifier.ready(), watchdog: () => notifier.watchdog(), reloading: () => notifier.reloading(), stopping: () => notifier.stopping(),
});
const table = own === null ? shared : viaOwn(own);
const sent = calls.map((call) => {
  const method = table[call];
  if (method === undefined) throw new Error(`unknown call ${call}`);
  return method();
});
process.stdout.write(`${JSON.stringify({ sent, transport: (own ?? defaultNotifier()).transport?.kind ?? null, watchdogMs: watchdogIntervalMs() })}\n`);
