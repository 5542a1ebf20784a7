// The host config as vifctl reads it: `--config FILE` or /etc/vifd/vifd.yaml.
// A missing default file means the built-in defaults (a host that has vifctl
// but no config yet can still plan or ask a daemon on the default socket); a
// missing file named with --config is an error.
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULTS, parseConfigText, validateConfig } from '../config/schema.js';
import type { HostConfig } from '../config/schema.js';
import { ConfigError } from '../model/errors.js';

export const DEFAULT_CONFIG = DEFAULTS.configFile;

/** `warn` hears that the defaults are in use; quiet callers pass nothing. */
export function loadClientConfig(path: string | undefined, warn?: (line: string) => void): HostConfig {
  const file = path ?? DEFAULT_CONFIG;
  if (!existsSync(file)) {
    if (path !== undefined) throw new ConfigError('no such file', { source: file });
    warn?.(`vifctl: no ${file}; using defaults (no networks defined)`);
    return validateConfig({});
  }
  return parseConfigText(readFileSync(file, 'utf8'), file);
}

/** --socket wins over the config file's control_socket. */
export function controlSocketOf(options: { readonly socket?: string; readonly config?: string }): string {
  return options.socket ?? loadClientConfig(options.config).controlSocket;
}
