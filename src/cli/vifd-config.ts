// How vifd reads its config at start and for --check-config: the file must
// exist (a daemon that silently ran on defaults would own no networks and
// refuse every VM), and every error in it is reported, not only the first.
// Exit 78 (EX_CONFIG) for any config problem: systemd's
// RestartPreventExitStatus=78 then stops retrying what a restart cannot fix.
import { existsSync, readFileSync } from 'node:fs';
import { checkConfigText } from '../config/schema.js';
import type { HostConfig } from '../config/schema.js';

export const EX_CONFIG = 78;
/** Where the package installs the example (Debian's place for examples). */
export const EXAMPLE_CONFIG = '/usr/share/doc/vifd/examples/vifd.yaml.example';
/** The example in the checkout vifd runs from (dist/src/cli/ is three levels below it). */
const EXAMPLE_IN_TREE = new URL('../../../systemd/vifd.yaml.example', import.meta.url).pathname;
/** Where `make install` (scripts/install.sh) puts it: PREFIX/share/doc/vifd/examples, the program being in PREFIX/lib/vifd/dist/src/cli. */
const EXAMPLE_INSTALLED = new URL('../../../../../share/doc/vifd/examples/vifd.yaml.example', import.meta.url).pathname;

/** The example to point an operator at: the package's, else the checkout's, else make install's, else the package's path. */
export function exampleConfigPath(exists: (path: string) => boolean = existsSync): string {
  return [EXAMPLE_CONFIG, EXAMPLE_IN_TREE, EXAMPLE_INSTALLED].find(exists) ?? EXAMPLE_CONFIG;
}

export type ConfigOutcome =
  | { readonly ok: true; readonly config: HostConfig }
  | { readonly ok: false; readonly lines: readonly string[] };

function missing(path: string): ConfigOutcome {
  return {
    ok: false,
    lines: [`vifd: no config file ${path}: copy the example ${exampleConfigPath()} there, name the host's networks and bridges in it, then check it with vifd --check-config ${path}`],
  };
}

/** The config, or the lines that say why not (each error with its file and field path). */
export function readDaemonConfig(path: string): ConfigOutcome {
  if (!existsSync(path)) return missing(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { ok: false, lines: [`vifd: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const check = checkConfigText(text, path);
  if (check.ok) return check;
  const count = check.errors.length;
  return { ok: false, lines: [...check.errors.map((error) => `vifd: ${error.message}`), `vifd: ${path}: ${count} error${count === 1 ? '' : 's'}`] };
}

/** One line for a valid config: what vifd would run with. */
export function configSummary(path: string, config: HostConfig): string {
  const names = [...config.networks.keys()];
  const networks = names.length === 0 ? 'no networks' : `${names.length} network${names.length === 1 ? '' : 's'} (${names.join(', ')})`;
  return `${path}: valid: ${networks}, hypervisor ${config.hypervisor}, control socket ${config.controlSocket}, libvirt ${config.libvirt.enabled === false ? 'not used' : config.libvirt.uri}`;
}
