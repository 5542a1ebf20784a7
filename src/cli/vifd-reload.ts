// SIGHUP (systemctl reload vifd): read the config file again. An invalid file
// is refused with every error logged and the running config kept; a valid one
// is compared with the running config (diffConfig) and handed to `apply`,
// which reconciles the changed networks. systemd hears RELOADING=1 first and
// READY=1 when it is over, whatever the outcome. Reloads never overlap: a
// SIGHUP during a reload runs one more reload after it.
import { describeConfigDiff, diffConfig } from '../config/diff.js';
import type { ConfigDiff } from '../config/diff.js';
import type { HostConfig } from '../config/schema.js';
import { readDaemonConfig } from './vifd-config.js';

/** Where reload outcomes are written (the daemon's logger). */
export interface ReloadLog {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
}

export type ReloadOutcome = 'applied' | 'unchanged' | 'refused' | 'failed' | 'not-applied';

export interface ReloadDeps {
  readonly path: string;
  readonly initial: HostConfig;
  readonly log: ReloadLog;
  /** Applies a valid, different config; without it changes are reported and wait for a restart. */
  readonly apply?: (next: HostConfig, diff: ConfigDiff) => Promise<void>;
  readonly notify?: { readonly reloading: () => boolean; readonly ready: () => boolean };
}

export class ConfigReloader {
  #current: HostConfig;
  #running: Promise<ReloadOutcome> | null = null;
  #again = false;

  constructor(private readonly deps: ReloadDeps) {
    this.#current = deps.initial;
  }

  /** The config in force. */
  get current(): HostConfig {
    return this.#current;
  }

  /** Starts a reload, or queues one after the reload in progress; resolves with the last outcome. */
  reload(): Promise<ReloadOutcome> {
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#loop().finally(() => { this.#running = null; });
    return this.#running;
  }

  async #loop(): Promise<ReloadOutcome> {
    for (;;) {
      const outcome = await this.#once();
      if (!this.#takeQueued()) return outcome;
    }
  }

  /** Whether a SIGHUP came during the reload that just ended (read once). */
  #takeQueued(): boolean {
    const queued = this.#again;
    this.#again = false;
    return queued;
  }

  async #once(): Promise<ReloadOutcome> {
    const { path, log, apply, notify } = this.deps;
    notifySafely(log, () => notify?.reloading());
    try {
      const read = readDaemonConfig(path);
      if (!read.ok) {
        for (const line of read.lines) log.error(line.replace(/^vifd: /, 'reload refused: '));
        log.error(`reload refused: kept the running config; fix ${path} and reload again`);
        return 'refused';
      }
      const diff = diffConfig(this.#current, read.config);
      if (diff.same) {
        log.info(`reload: ${path} has no changes`);
        return 'unchanged';
      }
      const what = describeConfigDiff(diff);
      if (apply === undefined) {
        log.warn(`reload: ${path} is valid (${what}); this vifd applies config changes on restart only: systemctl restart vifd`);
        return 'not-applied';
      }
      try {
        await apply(read.config, diff);
      } catch (error) {
        log.error(`reload failed: ${error instanceof Error ? error.message : String(error)}; kept the running config`);
        return 'failed';
      }
      this.#current = read.config;
      log.info(`reload: applied ${path}: ${what}`);
      return 'applied';
    } finally {
      notifySafely(log, () => notify?.ready());
    }
  }
}

/** A notification that fails is logged: the reload itself is not undone for it. */
function notifySafely(log: ReloadLog, send: () => unknown): void {
  try {
    send();
  } catch (error) {
    log.warn(`systemd notification failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
