// What a SIGHUP reload changes: which networks were added, removed or changed
// (and in which fields), and which other settings differ. Pure: the daemon
// decides what to reconcile and what only a restart can apply.
import type { HostConfig, NetworkConfig } from './schema.js';

export type NetworkField = 'bridge' | 'vlan' | 'mtu' | 'sriov';

export interface ConfigDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly { readonly network: string; readonly fields: readonly NetworkField[] }[];
  /** Other settings that differ, by their path in the file (log.level, metrics.listen...). */
  readonly settings: readonly string[];
  /** Those of `settings` a running daemon cannot take over: sockets, addresses, identity. */
  readonly needRestart: readonly string[];
  /** Nothing differs at all. */
  readonly same: boolean;
}

/** Settings a reload can apply in place; any other changed setting needs a restart. */
export const RELOADABLE_SETTINGS: readonly string[] = ['log.level', 'vif_limit.default', 'vif_limit.max'];

const SETTINGS: readonly (readonly [string, (config: HostConfig) => unknown])[] = [
  ['hypervisor', (config) => config.hypervisor],
  ['mac_prefix', (config) => config.macPrefix.text],
  ['vif_limit.default', (config) => config.vifLimit.default],
  ['vif_limit.max', (config) => config.vifLimit.max],
  ['ovsdb.socket', (config) => config.ovsdb.socket],
  ['libvirt.uri', (config) => config.libvirt.uri],
  ['libvirt.enabled', (config) => config.libvirt.enabled !== false],
  ['control_socket', (config) => config.controlSocket],
  ['state_dir', (config) => config.stateDir],
  ['metrics.listen', (config) => `${config.metrics.listen.host}:${config.metrics.listen.port}`],
  ['log.level', (config) => config.log.level],
  ['xen.allowed_bridges', (config) => config.xen?.allowedBridges ?? null],
  ['xapi', (config) => (config.xapi === undefined ? null : {
    ...config.xapi, transport: config.xapi.transport.kind === 'unix' ? `unix:${config.xapi.transport.socketPath}` : config.xapi.transport.url.href,
  })],
];

/** Key order never matters: VLAN settings are compared field by field, trunk lists in order. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) || Array.isArray(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function changedFields(before: NetworkConfig, after: NetworkConfig): NetworkField[] {
  const fields: NetworkField[] = [];
  if (before.bridge !== after.bridge) fields.push('bridge');
  if (!sameValue(before.vlan, after.vlan)) fields.push('vlan');
  if (before.mtu !== after.mtu) fields.push('mtu');
  if (!sameValue(before.sriov, after.sriov)) fields.push('sriov');
  return fields;
}

export function diffConfig(before: HostConfig, after: HostConfig): ConfigDiff {
  const added = [...after.networks.keys()].filter((name) => !before.networks.has(name));
  const removed = [...before.networks.keys()].filter((name) => !after.networks.has(name));
  const changed = [...after.networks.values()].flatMap((network) => {
    const previous = before.networks.get(network.name);
    const fields = previous === undefined ? [] : changedFields(previous, network);
    return fields.length === 0 ? [] : [{ network: network.name, fields }];
  });
  const settings = SETTINGS.filter(([, read]) => !sameValue(read(before), read(after))).map(([path]) => path);
  const needRestart = settings.filter((path) => !RELOADABLE_SETTINGS.includes(path));
  return { added, removed, changed, settings, needRestart, same: added.length + removed.length + changed.length + settings.length === 0 };
}

/** One line for the log: "networks added: a; changed: b (vlan, mtu); settings: log.level". */
export function describeConfigDiff(diff: ConfigDiff): string {
  if (diff.same) return 'no changes';
  const parts: string[] = [];
  if (diff.added.length > 0) parts.push(`networks added: ${diff.added.join(', ')}`);
  if (diff.removed.length > 0) parts.push(`networks removed: ${diff.removed.join(', ')}`);
  if (diff.changed.length > 0) parts.push(`networks changed: ${diff.changed.map((entry) => `${entry.network} (${entry.fields.join(', ')})`).join(', ')}`);
  if (diff.settings.length > 0) parts.push(`settings changed: ${diff.settings.join(', ')}`);
  if (diff.needRestart.length > 0) parts.push(`a restart is needed for: ${diff.needRestart.join(', ')}`);
  return parts.join('; ');
}
