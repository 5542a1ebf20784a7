// The host config file (/etc/vifd/vifd.yaml; JSON is valid YAML too). Parsing
// is pure: the caller reads the file. Every error names the field's path.
import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError, describeValue } from '../model/errors.js';
import { DEFAULT_VIF_LIMIT, DEFAULT_VIF_LIMIT_MAX, MAX_VIF_LIMIT } from '../model/limit.js';
import { KVM_MAC_PREFIX, XEN_MAC_PREFIX, parseMacPrefix } from '../model/mac.js';
import type { MacPrefix } from '../model/mac.js';
import { assertValidInterfaceName } from '../model/names.js';
import { parseSriovConfig } from '../model/sriov/config.js';
import type { SriovNetworkConfig } from '../model/sriov/config.js';
import { validateVlanSettings } from '../model/vlan.js';
import type { VlanSettings } from '../model/vlan.js';
import { parseXapiConfig } from '../xapi/config.js';
import type { XapiConfig } from '../xapi/config.js';
import { ConfigProblems, ObjectReader, asConfigError, isPlainObject, joinPath } from './fields.js';
import { parseYamlText, readYamlText } from './load.js';

export type Hypervisor = 'kvm' | 'xen';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface NetworkConfig {
  readonly name: string;
  /** The OVS bridge of a TAP network; '' for an SR-IOV network without one. */
  readonly bridge: string;
  readonly vlan: VlanSettings;
  readonly mtu?: number;
  /** An SR-IOV network: its VIFs get a VF of these PFs instead of a TAP. */
  readonly sriov?: SriovNetworkConfig;
}

export interface HostConfig {
  readonly hypervisor: Hypervisor;
  readonly macPrefix: MacPrefix;
  readonly vifLimit: { readonly default: number; readonly max: number };
  readonly ovsdb: { readonly socket: string };
  /**
   * libvirtd: `enabled: false` on Xen hosts without it (XAPI hosts, libxl
   * alone); vifd then reconciles and collects through XAPI and the Xen hook's
   * source alone. Absent means enabled.
   */
  readonly libvirt: { readonly uri: string; readonly enabled?: boolean };
  readonly controlSocket: string;
  readonly stateDir: string;
  readonly metrics: { readonly listen: { readonly host: string; readonly port: number } };
  readonly log: { readonly level: LogLevel };
  readonly networks: ReadonlyMap<string, NetworkConfig>;
  /** XAPI hosts: where XAPI is and the XAPI VMs' VIF limit; absent, vifd does not follow XAPI. */
  readonly xapi?: XapiConfig;
  /** Xen hosts: the bridges a toolstack may name for a VIF; absent, any bridge that exists in OVS. */
  readonly xen?: { readonly allowedBridges?: readonly string[] };
}

const TOP_KEYS = ['hypervisor', 'mac_prefix', 'vif_limit', 'ovsdb', 'libvirt', 'control_socket', 'state_dir', 'metrics', 'log', 'networks', 'xapi', 'xen'];
const NETWORK_KEYS = ['bridge', 'vlan', 'trunks', 'vlan_mode', 'mtu', 'sriov'];
const NETWORK_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Linux's minimum MTU for IPv4 (68) and the largest an OVS port accepts. */
const MTU_RANGE = { min: 68, max: 65535 };

const DEFAULT_LISTEN = '127.0.0.1:9477';
/** Where vifd and vifctl look when no value is given. */
export const DEFAULTS = {
  configFile: '/etc/vifd/vifd.yaml',
  ovsdbSocket: '/var/run/openvswitch/db.sock',
  libvirtUri: 'qemu:///system',
  controlSocket: '/run/vifd/vifd.sock',
  stateDir: '/var/lib/vifd',
} as const;
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

function parseNetwork(name: string, value: unknown, path: string, problems: ConfigProblems): NetworkConfig | null {
  if (!NETWORK_NAME.test(name)) {
    problems.errors.push(new ConfigError(`network name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 _ . -`, { field: path, value: name }));
    return null;
  }
  const before = problems.errors.length;
  const fields = ObjectReader.of(value, path, NETWORK_KEYS, problems);
  const isSriov = fields.raw('sriov') !== undefined;
  const bridge = problems.attempt(() => {
    // An SR-IOV network's VIFs are VFs: it needs no bridge.
    if (fields.raw('bridge') === undefined) {
      if (isSriov) return '';
      throw new ConfigError('is required', { field: fields.at('bridge') });
    }
    return fields.parsed('bridge', assertValidInterfaceName);
  }, '');
  const vlan = problems.attempt<VlanSettings>(() => asConfigError(() => validateVlanSettings(
    { mode: fields.raw('vlan_mode'), tag: fields.raw('vlan'), trunks: fields.raw('trunks') },
    `${path}.`,
  )), { mode: 'none' });
  const mtu = problems.attempt(() => fields.integer('mtu', MTU_RANGE), undefined);
  if (problems.errors.length > before) return null;
  // Parsed after the VLAN: its trunks are refused naming networks.<name>.trunks.
  const sriov = isSriov ? problems.attempt<SriovNetworkConfig | undefined>(() => asConfigError(() => parseSriovConfig(fields.raw('sriov'), vlan, path)), undefined) : undefined;
  if (problems.errors.length > before) return null;
  return { name, bridge, vlan, ...(mtu === undefined ? {} : { mtu }), ...(sriov === undefined ? {} : { sriov }) };
}

function parseNetworks(value: unknown, problems: ConfigProblems): Map<string, NetworkConfig> {
  const networks = new Map<string, NetworkConfig>();
  if (value === undefined || value === null) return networks;
  if (!isPlainObject(value)) {
    problems.errors.push(new ConfigError('expected a mapping of network name to settings', { field: 'networks' }));
    return networks;
  }
  for (const [name, settings] of Object.entries(value)) {
    const network = parseNetwork(name, settings, joinPath('networks', name), problems);
    if (network !== null) networks.set(name, network);
  }
  return networks;
}

function parseVifLimits(fields: ObjectReader, problems: ConfigProblems): HostConfig['vifLimit'] {
  const limits = ObjectReader.of(fields.raw('vif_limit'), 'vif_limit', ['default', 'max'], problems);
  const range = { min: 1, max: MAX_VIF_LIMIT };
  const before = problems.errors.length;
  const max = problems.attempt(() => limits.integer('max', range, DEFAULT_VIF_LIMIT_MAX), undefined) ?? DEFAULT_VIF_LIMIT_MAX;
  const maxIsValid = problems.errors.length === before;
  const fallback = Math.min(DEFAULT_VIF_LIMIT, max);
  const defaultLimit = problems.attempt(() => limits.integer('default', range, fallback), undefined) ?? fallback;
  // Against a max that was refused the comparison would only repeat that error.
  if (maxIsValid && defaultLimit > max) {
    problems.errors.push(new ConfigError(`${defaultLimit} is above vif_limit.max (${max})`, { field: 'vif_limit.default' }));
  }
  return { default: defaultLimit, max };
}

/** The `xapi:` block; its VIF limit defaults to the host's and may not pass the host's cap. */
function parseXapi(raw: unknown, vifLimit: HostConfig['vifLimit']): XapiConfig | undefined {
  if (raw === undefined) return undefined;
  // `xapi:` with nothing under it (YAML null) takes every default.
  const given = raw ?? {};
  const block = isPlainObject(given) && given.vif_limit === undefined ? { ...given, vif_limit: vifLimit.default } : given;
  const xapi = asConfigError(() => parseXapiConfig(block, 'xapi'));
  if (xapi.vifLimit > vifLimit.max) throw new ConfigError(`${xapi.vifLimit} is above vif_limit.max (${vifLimit.max})`, { field: 'xapi.vif_limit' });
  return xapi;
}

/** `xen.allowed_bridges`: bridge names, as a toolstack names them (a fake bridge by its own name). */
function parseXen(raw: unknown, problems: ConfigProblems): HostConfig['xen'] {
  if (raw === undefined) return undefined;
  const xen = ObjectReader.of(raw, 'xen', ['allowed_bridges'], problems);
  const list = xen.raw('allowed_bridges');
  if (list === undefined) return {};
  const field = xen.at('allowed_bridges');
  if (!Array.isArray(list)) throw new ConfigError(`expected a list of bridge names, got ${describeValue(list)}`, { field, value: list });
  return { allowedBridges: [...new Set(list.map((name, at) => asConfigError(() => assertValidInterfaceName(name, `${field}[${at}]`))))] };
}

/** Only a Xen host may do without libvirtd: on KVM it is the only source of VMs. */
function libvirtEnabled(libvirt: ObjectReader, hypervisor: Hypervisor): boolean {
  const enabled = libvirt.boolean('enabled', true);
  if (!enabled && hypervisor !== 'xen') {
    throw new ConfigError('false needs hypervisor: xen (a KVM host\'s VMs are known only through libvirtd)', { field: libvirt.at('enabled'), value: false });
  }
  return enabled;
}

/** Whether vifd uses libvirtd (config `libvirt.enabled`, default true). */
export const usesLibvirt = (config: Pick<HostConfig, 'libvirt'>): boolean => config.libvirt.enabled !== false;

/** Reads every field; each bad one is recorded in `problems` and a default stands in for it. */
function readConfig(raw: unknown, problems: ConfigProblems): HostConfig {
  const top = ObjectReader.of(raw, '', TOP_KEYS, problems);
  const section = (key: string, keys: readonly string[]): ObjectReader => ObjectReader.of(top.raw(key), key, keys, problems);
  const hypervisor = problems.attempt(() => top.oneOf<Hypervisor>('hypervisor', ['kvm', 'xen'], 'kvm'), 'kvm');
  const defaultPrefix = hypervisor === 'xen' ? XEN_MAC_PREFIX : KVM_MAC_PREFIX;
  const macPrefix = problems.attempt(() => top.parsed('mac_prefix', (value, field) => parseMacPrefix(value ?? defaultPrefix, field)),
    parseMacPrefix(defaultPrefix, 'mac_prefix'));
  const ovsdb = section('ovsdb', ['socket']);
  const libvirt = section('libvirt', ['uri', 'enabled']);
  const metrics = section('metrics', ['listen']);
  const log = section('log', ['level']);
  const vifLimit = parseVifLimits(top, problems);
  return {
    hypervisor,
    macPrefix,
    vifLimit,
    ovsdb: { socket: problems.attempt(() => ovsdb.absolutePath('socket', DEFAULTS.ovsdbSocket), DEFAULTS.ovsdbSocket) },
    libvirt: {
      uri: problems.attempt(() => libvirt.string('uri', DEFAULTS.libvirtUri), DEFAULTS.libvirtUri),
      enabled: problems.attempt(() => libvirtEnabled(libvirt, hypervisor), true),
    },
    controlSocket: problems.attempt(() => top.absolutePath('control_socket', DEFAULTS.controlSocket), DEFAULTS.controlSocket),
    stateDir: problems.attempt(() => top.absolutePath('state_dir', DEFAULTS.stateDir), DEFAULTS.stateDir),
    metrics: { listen: problems.attempt(() => parseListen(metrics.raw('listen'), 'metrics.listen'), parseListen(undefined, 'metrics.listen')) },
    log: { level: problems.attempt(() => log.oneOf<LogLevel>('level', ['error', 'warn', 'info', 'debug'], 'info'), 'info') },
    networks: parseNetworks(top.raw('networks'), problems),
    ...optional('xapi', problems.attempt(() => parseXapi(top.raw('xapi'), vifLimit), undefined)),
    ...optional('xen', problems.attempt(() => parseXen(top.raw('xen'), problems), undefined)),
  };
}

const optional = <K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } => (value === undefined ? {} : { [key]: value } as { [P in K]: T });

/** Validates an already parsed config document and fills in defaults; throws the first error. */
export function validateConfig(raw: unknown): HostConfig {
  const problems = new ConfigProblems();
  const config = readConfig(raw, problems);
  const [first] = problems.errors;
  if (first !== undefined) throw first;
  return config;
}

/** Every problem in a config file, or the config when there is none. */
export type ConfigCheck =
  | { readonly ok: true; readonly config: HostConfig }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

/** Like parseConfigText, but collects every error (each with the source and the field's path). */
export function checkConfigText(text: string, sourceName: string): ConfigCheck {
  const document = readYamlText(text, sourceName);
  if (!document.ok) return document;
  const problems = new ConfigProblems();
  const config = readConfig(document.value, problems);
  if (problems.errors.length === 0) return { ok: true, config };
  return { ok: false, errors: problems.errors.map((error) => error.withContext({ source: sourceName })) };
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
