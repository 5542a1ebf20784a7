#!/usr/bin/env node
// `vifd --config FILE`: the daemon. A missing or invalid config exits 78
// (EX_CONFIG) after naming every error; `--check-config [FILE]` does only
// that check. SIGTERM and SIGINT stop it cleanly: VIFs stay as they are
// (running VMs keep their network), the next start reconciles. The daemon's
// modules (libvirt's binding among them) load only to run the daemon, so
// --help, --version and --check-config work wherever node does.
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG } from './client-config.js';
import { VIFD_HELP, wantsHelp } from './help.js';
import { packageVersion } from '../daemon/version.js';
import { notifyReady, notifyReloading, notifyStopping, startWatchdog } from '../daemon/sd-notify.js';
import { EX_CONFIG, configSummary, readDaemonConfig } from './vifd-config.js';
import { ConfigReloader } from './vifd-reload.js';
import type { ConfigOutcome } from './vifd-config.js';

const EX_USAGE = 64;

type Invocation = { readonly run: 'daemon' | 'check'; readonly path: string } | { readonly exit: number };

function parseInvocation(argv: readonly string[]): Invocation {
  if (wantsHelp(argv)) {
    process.stdout.write(`${VIFD_HELP}\n`);
    return { exit: 0 };
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...argv], strict: true, allowPositionals: true,
      options: { config: { type: 'string' }, 'check-config': { type: 'boolean' }, version: { type: 'boolean', short: 'V' } },
    });
    if (values.version === true) {
      process.stdout.write(`vifd ${packageVersion()}\n`);
      return { exit: 0 };
    }
    const check = values['check-config'] === true;
    if (positionals.length > (check ? 1 : 0)) throw new Error(`unexpected argument ${JSON.stringify(positionals.at(-1))}`);
    return { run: check ? 'check' : 'daemon', path: positionals[0] ?? values.config ?? DEFAULT_CONFIG };
  } catch (error) {
    process.stderr.write(`vifd: ${(error as Error).message}\n${VIFD_HELP}\n`);
    return { exit: EX_USAGE };
  }
}

function reportConfig(outcome: ConfigOutcome & { readonly ok: false }): number {
  for (const line of outcome.lines) process.stderr.write(`${line}\n`);
  return EX_CONFIG;
}

async function main(argv: readonly string[]): Promise<number> {
  const invocation = parseInvocation(argv);
  if ('exit' in invocation) return invocation.exit;
  const outcome = readDaemonConfig(invocation.path);
  if (!outcome.ok) return reportConfig(outcome);
  if (invocation.run === 'check') {
    process.stdout.write(`${configSummary(invocation.path, outcome.config)}\n`);
    return 0;
  }
  const config = outcome.config;
  const [{ Daemon }, { createLogger }] = await Promise.all([import('../daemon/daemon.js'), import('../daemon/log.js')]);
  const log = createLogger(config.log.level);
  // A promise nobody handled means vifd's state is unknown: say so with context and
  // exit non-zero, so systemd restarts it and the start-up reconcile repairs the host.
  process.on('unhandledRejection', (reason: unknown) => {
    const detail = reason instanceof Error ? reason.stack ?? reason.message : String(reason);
    log.error(`unhandled rejection, exiting so the service restarts: ${detail.replace(/\n\s*/g, ' | ')}`);
    process.exit(70); // EX_SOFTWARE
  });
  const notifyFailed = (error: unknown): void => { log.warn(`systemd notification failed: ${error instanceof Error ? error.message : String(error)}`); };
  // From the start: WatchdogSec= counts from the moment systemd starts vifd.
  const stopWatchdog = startWatchdog(notifyFailed);
  // Node's default for SIGHUP is to exit; `systemctl reload` must never stop vifd.
  let daemon: import('../daemon/daemon.js').Daemon | null = null;
  const reloader = new ConfigReloader({
    path: invocation.path, initial: config, log, notify: { reloading: notifyReloading, ready: notifyReady },
    apply: async (next, diff) => {
      if (daemon === null) throw new Error('vifd is still starting; reload again shortly');
      await daemon.reload(next, diff);
    },
  });
  // reload() reports what it can itself; what escapes it (the logger failing) is logged here, not left unhandled.
  const onHangup = (): void => {
    reloader.reload().catch((error: unknown) => { log.error(`reload on SIGHUP failed: ${error instanceof Error ? error.message : String(error)}`); });
  };
  process.on('SIGHUP', onHangup);
  try {
    daemon = await Daemon.start(config, log, { onFatal: exitOnFatal(log) });
  } catch (error) {
    log.error(`vifd could not start: ${(error as Error).message}`);
    stopWatchdog();
    return 1;
  }
  // Daemon.start resolves once the control socket serves, before libvirtd is
  // reached: systemd may now start libvirtd, whose autostart guests' hooks need it.
  try {
    notifyReady();
  } catch (error) {
    notifyFailed(error);
  }
  const signal = await stopSignal();
  log.info(`stopping on ${signal}`);
  try {
    notifyStopping();
  } catch (error) {
    notifyFailed(error);
  }
  process.off('SIGHUP', onHangup);
  await daemon.stop();
  stopWatchdog();
  log.close();
  return 0;
}

/** Reaching the services failed past retrying: exit non-zero so systemd restarts vifd. */
const exitOnFatal = (log: { error(message: string): void }) => (error: Error): void => {
  log.error(`vifd cannot go on without its services, exiting so the service restarts: ${error.message}`);
  process.exit(70); // EX_SOFTWARE
};

const stopSignal = (): Promise<NodeJS.Signals> => new Promise((resolve) => {
  process.once('SIGTERM', resolve);
  process.once('SIGINT', resolve);
});

main(process.argv.slice(2)).then((code) => { process.exit(code); }, (error: unknown) => {
  process.stderr.write(`vifd: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
