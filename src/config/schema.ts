// The host config file (/etc/vifd/vifd.yaml; JSON is valid YAML too). Parsing
// is pure: the caller reads the file. Every error names the field's path.
import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError, describeValue } from '../model/errors.js';
import { DEFAULT_VIF_LIMIT, DEFAULT_VIF_LIMIT_MAX, MAX_VIF_LIMIT } from '../model/limit.js';
import { KVM_MAC_PREFIX, XEN_MAC_PREFIX, parseMacPrefix } from '../model/mac.js';
import type { MacPrefix } from '../model/mac.js';
import { assertValidInterfaceName } from '../model/names.js';
import { validateVlanSettings } from '../model/vlan.js';
import type { VlanSettings } from '../model/vlan.js';
import { ObjectReader, asConfigError, isPlainObject, joinPath } from './fields.js';
import { parseYamlText } from './load.js';

export type Hypervisor = 'kvm' | 'xen';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface NetworkConfig {
  readonly name: string;
  readonly bridge: string;
  readonly vlan: VlanSettings;
  readonly mtu?: number;
}

export interface HostConfig {
  readonly hypervisor: Hypervisor;
  readonly macPrefix: MacPrefix;
  readonly vifLimit: { readonly default: number; readonly max: number };
  readonly ovsdb: { readonly socket: string };
  readonly libvirt: { readonly uri: string };
  readonly controlSocket: string;
  readonly stateDir: string;
  readonly metrics: { readonly listen: { readonly host: string; readonly port: number } };
  readonly log: { readonly level: LogLevel };
  readonly networks: ReadonlyMap<string, NetworkConfig>;
}

const TOP_KEYS = ['hypervisor', 'mac_prefix', 'vif_limit', 'ovsdb', 'libvirt', 'control_socket', 'state_dir', 'metrics', 'log', 'networks'];
const NETWORK_KEYS = ['bridge', 'vlan', 'trunks', 'vlan_mode', 'mtu'];
const NETWORK_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Linux's minimum MTU for IPv4 (68) and the largest an OVS port accepts. */
const MTU_RANGE = { min: 68, max: 65535 };

const DEFAULT_LISTEN = '127.0.0.1:9477';
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function isListenHost(bracketed: string | undefined, plain: string | undefined): boolean {
  if (bracketed !== undefined) return isIPv6(bracketed);
  if (plain === undefined) return false;
  // All digits and dots is meant as IPv4 (999.1.1.1 is a typo, not a host name).
  return isIPv4(plain) || (HOST_NAME.test(plain) && !/^[\d.]+$/.test(plain));
}

// Any address is accepted (loopback is the default, not a rule), but it must be
// one: an IPv4 address, a bracketed IPv6 address or a host name, and a port.
function parseListen(value: unknown, field: string): { host: string; port: number } {
  const text = value ?? DEFAULT_LISTEN;
  const match = typeof text === 'string' ? /^(?:\[([^\]]*)\]|([^:[\]]*)):([1-9]\d{0,4})$/.exec(text) : null;
  const ipv6 = match?.[1];
  const other = match?.[2];
  const port = Number(match?.[3]);
  if (!isListenHost(ipv6, other) || port > 65535) {
    throw new ConfigError(`${describeValue(text)} is not host:port (e.g. 127.0.0.1:9477, [::1]:9477, localhost:9477)`, { field, value: text });
  }
  return { host: ipv6 ?? other ?? '', port };
}

function parseNetwork(name: string, value: unknown, path: string): NetworkConfig {
  if (!NETWORK_NAME.test(name)) {
    throw new ConfigError(`network name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 _ . -`, { field: path, value: name });
  }
  const fields = ObjectReader.of(value, path, NETWORK_KEYS);
  if (fields.raw('bridge') === undefined) throw new ConfigError('is required', { field: fields.at('bridge') });
  const bridge = fields.parsed('bridge', assertValidInterfaceName);
  const vlan = asConfigError(() => validateVlanSettings(
    { mode: fields.raw('vlan_mode'), tag: fields.raw('vlan'), trunks: fields.raw('trunks') },
    `${path}.`,
  ));
  const mtu = fields.integer('mtu', MTU_RANGE);
  return mtu === undefined ? { name, bridge, vlan } : { name, bridge, vlan, mtu };
}

function parseNetworks(value: unknown): Map<string, NetworkConfig> {
  const networks = new Map<string, NetworkConfig>();
  if (value === undefined || value === null) return networks;
  if (!isPlainObject(value)) throw new ConfigError('expected a mapping of network name to settings', { field: 'networks' });
  for (const [name, settings] of Object.entries(value)) {
    networks.set(name, parseNetwork(name, settings, joinPath('networks', name)));
  }
  return networks;
}

function parseVifLimits(fields: ObjectReader): HostConfig['vifLimit'] {
  const limits = ObjectReader.of(fields.raw('vif_limit'), 'vif_limit', ['default', 'max']);
  const range = { min: 1, max: MAX_VIF_LIMIT };
  const max = limits.integer('max', range, DEFAULT_VIF_LIMIT_MAX) ?? DEFAULT_VIF_LIMIT_MAX;
  const fallback = Math.min(DEFAULT_VIF_LIMIT, max);
  const defaultLimit = limits.integer('default', range, fallback) ?? fallback;
  if (defaultLimit > max) throw new ConfigError(`${defaultLimit} is above vif_limit.max (${max})`, { field: 'vif_limit.default' });
  return { default: defaultLimit, max };
}

/** Validates an already parsed config document and fills in defaults. */
export function validateConfig(raw: unknown): HostConfig {
  const top = ObjectReader.of(raw, '', TOP_KEYS);
  const hypervisor = top.oneOf<Hypervisor>('hypervisor', ['kvm', 'xen'], 'kvm');
  const macPrefix = top.parsed('mac_prefix', (value, field) =>
    parseMacPrefix(value ?? (hypervisor === 'xen' ? XEN_MAC_PREFIX : KVM_MAC_PREFIX), field));
  const ovsdb = ObjectReader.of(top.raw('ovsdb'), 'ovsdb', ['socket']);
  const libvirt = ObjectReader.of(top.raw('libvirt'), 'libvirt', ['uri']);
  const metrics = ObjectReader.of(top.raw('metrics'), 'metrics', ['listen']);
  const log = ObjectReader.of(top.raw('log'), 'log', ['level']);
  return {
    hypervisor,
    macPrefix,
    vifLimit: parseVifLimits(top),
    ovsdb: { socket: ovsdb.absolutePath('socket', '/var/run/openvswitch/db.sock') },
    libvirt: { uri: libvirt.string('uri', 'qemu:///system') },
    controlSocket: top.absolutePath('control_socket', '/run/vifd/vifd.sock'),
    stateDir: top.absolutePath('state_dir', '/var/lib/vifd'),
    metrics: { listen: parseListen(metrics.raw('listen'), 'metrics.listen') },
    log: { level: log.oneOf<LogLevel>('level', ['error', 'warn', 'info', 'debug'], 'info') },
    networks: parseNetworks(top.raw('networks')),
  };
}

/** Parses config text (YAML or JSON); errors start with `sourceName`. */
export function parseConfigText(text: string, sourceName: string): HostConfig {
  const raw = parseYamlText(text, sourceName);
  try {
    return validateConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) throw error.withContext({ source: sourceName });
    throw error;
  }
}
