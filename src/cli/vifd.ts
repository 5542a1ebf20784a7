#!/usr/bin/env node
// `vifd --config FILE`: the daemon. Config errors name the field and exit 78
// (EX_CONFIG, so systemd does not restart into the same error); SIGTERM and
// SIGINT stop it cleanly: VIFs stay as they are (running VMs keep their
// network), the next start reconciles.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseConfigText } from '../config/schema.js';
import type { HostConfig } from '../config/schema.js';
import { Daemon } from '../daemon/daemon.js';
import { createLogger } from '../daemon/log.js';
import { VifdError } from '../model/errors.js';
import { DEFAULT_CONFIG } from './plan.js';

const USAGE = 'usage: vifd [--config FILE]   (default /etc/vifd/vifd.yaml)';
const EX_USAGE = 64;
const EX_CONFIG = 78;

function loadConfig(argv: readonly string[]): HostConfig | number {
  let path: string;
  try {
    const { values } = parseArgs({ args: [...argv], strict: true, options: { config: { type: 'string' }, help: { type: 'boolean' } } });
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    path = values.config ?? DEFAULT_CONFIG;
  } catch (error) {
    process.stderr.write(`vifd: ${(error as Error).message}\n${USAGE}\n`);
    return EX_USAGE;
  }
  try {
    return parseConfigText(readFileSync(path, 'utf8'), path);
  } catch (error) {
    const message = error instanceof VifdError ? error.message : `${path}: ${(error as Error).message}`;
    process.stderr.write(`vifd: ${message}\n`);
    return EX_CONFIG;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const config = loadConfig(argv);
  if (typeof config === 'number') return config;
  const log = createLogger(config.log.level);
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(config, log);
  } catch (error) {
    log.error(`vifd could not start: ${(error as Error).message}`);
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info(`stopping on ${signal}`);
  await daemon.stop();
  log.close();
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exit(code); }, (error: unknown) => {
  process.stderr.write(`vifd: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
