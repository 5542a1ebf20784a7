// The `sriov:` block of a network in the host config: which PFs make the VF
// pool, which VFs are kept out of it, what every VF of the network is set to.
// Pure: the caller (src/config/schema.ts) hands in the parsed YAML value and the
// network's already validated VLAN settings; errors name the dotted field path.
import { InvalidInputError, describeValue } from '../errors.js';
import { assertValidInterfaceName } from '../names.js';
import type { VlanSettings } from '../vlan.js';
import { isPciAddress, parsePciAddress } from './pci.js';
import type { PciAddress } from './pci.js';
import { LINK_STATES } from './vf-settings.js';
import type { LinkState } from './vf-settings.js';

/** A PF as the operator names it: its netdev (enp3s0f0) or its PCI address. */
export type PfRef = { readonly kind: 'netdev'; readonly name: string } | { readonly kind: 'pci'; readonly address: PciAddress };

/** A VF kept out of the pool: a VF index (on every PF of the network) or one VF's PCI address. */
export type VfExclusion = { readonly kind: 'index'; readonly index: number } | { readonly kind: 'pci'; readonly address: PciAddress };

/** What every VF of the network is set to while a VIF has it. */
export interface VfDefaults {
  readonly spoofchk: boolean;
  readonly trust: boolean;
  readonly linkState: LinkState;
  /** Mbit/s; 0 = no limit. */
  readonly maxTxRate: number;
  readonly minTxRate: number;
}

export interface SriovNetworkConfig {
  readonly pfs: readonly PfRef[];
  readonly exclude: readonly VfExclusion[];
  /** VFs to enable on a PF whose sriov_numvfs is 0; never used to change a non-zero count. */
  readonly numVfs?: number;
  readonly defaults: VfDefaults;
  /** The host driver a VF is bound to before it goes to a guest (vfio-pci for KVM, pciback for Xen). */
  readonly vfDriver: string;
  /** The access VLAN the VF tags (VST); undefined = untagged. */
  readonly vlan?: number;
}

export const DEFAULT_VF_DRIVER = 'vfio-pci';
export const DEFAULT_VF_SETTINGS: VfDefaults = { spoofchk: true, trust: false, linkState: 'auto', maxTxRate: 0, minTxRate: 0 };
const KEYS = ['pfs', 'exclude', 'num_vfs', 'spoofchk', 'trust', 'link_state', 'max_tx_rate', 'min_tx_rate', 'vf_driver'];
/** IFLA_VF_RATE carries u32 Mbit/s. */
const MAX_RATE = 0xffffffff;
/** PCI SR-IOV's TotalVFs is 16 bits. */
const MAX_VFS = 0xffff;
const DRIVER_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;

function checkKeys(value: unknown, path: string): Record<string, unknown> {
  if (!isMapping(value)) throw new InvalidInputError(`expected a mapping, got ${describeValue(value)}`, { field: path, value });
  const unknown = Object.keys(value).filter((key) => !KEYS.includes(key));
  if (unknown.length > 0) {
    throw new InvalidInputError(`unknown key ${unknown.map((key) => JSON.stringify(key)).join(', ')} (known: ${KEYS.join(', ')})`, { field: path, value: unknown });
  }
  return value;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new InvalidInputError(`expected an integer, got ${describeValue(value)}`, { field, value });
  if (value < min || value > max) throw new InvalidInputError(`${value} is outside ${min}-${max}`, { field, value });
  return value;
}

function boolean(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidInputError(`expected true or false, got ${describeValue(value)}`, { field, value });
  return value;
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new InvalidInputError(`expected a list, got ${describeValue(value)}`, { field, value });
  return value;
}

function parsePfs(value: unknown, field: string): PfRef[] {
  if (value === undefined) throw new InvalidInputError('is required: the PF netdevs or PCI addresses whose VFs make the pool', { field });
  const items = list(value, field);
  if (items.length === 0) throw new InvalidInputError('lists no PF', { field, value });
  const pfs = items.map((item, at): PfRef => {
    const itemField = `${field}[${at}]`;
    if (isPciAddress(typeof item === 'string' ? item.toLowerCase() : item)) return { kind: 'pci', address: parsePciAddress(item, itemField) };
    return { kind: 'netdev', name: assertValidInterfaceName(item, itemField) };
  });
  const names = pfs.map((pf) => (pf.kind === 'pci' ? pf.address : pf.name));
  const twice = names.find((name, at) => names.indexOf(name) !== at);
  if (twice !== undefined) throw new InvalidInputError(`PF ${twice} is listed twice`, { field, value });
  return pfs;
}

function parseExclusions(value: unknown, field: string): VfExclusion[] {
  if (value === undefined) return [];
  return list(value, field).map((item, at): VfExclusion => {
    const itemField = `${field}[${at}]`;
    if (typeof item === 'number') return { kind: 'index', index: integer(item, itemField, 0, MAX_VFS - 1) };
    if (typeof item === 'string') return { kind: 'pci', address: parsePciAddress(item, itemField) };
    throw new InvalidInputError(`expected a VF index or a VF's PCI address, got ${describeValue(item)}`, { field: itemField, value: item });
  });
}

function parseDefaults(block: Record<string, unknown>, path: string): VfDefaults {
  const at = (key: string): string => `${path}.${key}`;
  const linkState = block.link_state ?? DEFAULT_VF_SETTINGS.linkState;
  if (typeof linkState !== 'string' || !(LINK_STATES as readonly string[]).includes(linkState)) {
    throw new InvalidInputError(`${describeValue(linkState)} is not one of ${LINK_STATES.join(', ')}`, { field: at('link_state'), value: linkState });
  }
  const rate = (key: string): number => (block[key] === undefined ? 0 : integer(block[key], at(key), 0, MAX_RATE));
  const maxTxRate = rate('max_tx_rate');
  const minTxRate = rate('min_tx_rate');
  if (maxTxRate !== 0 && minTxRate > maxTxRate) {
    throw new InvalidInputError(`${minTxRate} is above max_tx_rate (${maxTxRate})`, { field: at('min_tx_rate'), value: minTxRate });
  }
  return {
    spoofchk: boolean(block.spoofchk, at('spoofchk'), DEFAULT_VF_SETTINGS.spoofchk),
    trust: boolean(block.trust, at('trust'), DEFAULT_VF_SETTINGS.trust),
    linkState: linkState as LinkState,
    maxTxRate,
    minTxRate,
  };
}

/**
 * A VF tags one VLAN (VST; the upstream API has no VF trunks), so a network
 * with trunks or a native VLAN cannot be an SR-IOV network.
 */
function accessVlan(vlan: VlanSettings, networkPath: string): number | undefined {
  switch (vlan.mode) {
    case 'none': return undefined;
    case 'access': return vlan.tag;
    case 'trunk':
      throw new InvalidInputError('an SR-IOV VF carries one access VLAN; trunks are not supported', { field: `${networkPath}.trunks`, value: vlan.trunks });
    default:
      throw new InvalidInputError(`an SR-IOV VF carries one access VLAN; vlan_mode ${vlan.mode} is not supported`, { field: `${networkPath}.vlan_mode`, value: vlan.mode });
  }
}

function parseDriver(value: unknown, field: string): string {
  if (value === undefined) return DEFAULT_VF_DRIVER;
  if (typeof value !== 'string' || !DRIVER_NAME.test(value)) {
    throw new InvalidInputError(`${describeValue(value)} is not a kernel driver name (like vfio-pci)`, { field, value });
  }
  return value;
}

/**
 * Parses `networks.<name>.sriov`. `networkPath` is the network's path
 * (networks.fast); `vlan` its VLAN settings as the schema already validated them.
 */
export function parseSriovConfig(raw: unknown, vlan: VlanSettings, networkPath: string): SriovNetworkConfig {
  const path = `${networkPath}.sriov`;
  const block = checkKeys(raw, path);
  const access = accessVlan(vlan, networkPath);
  const base = {
    pfs: parsePfs(block.pfs, `${path}.pfs`),
    exclude: parseExclusions(block.exclude, `${path}.exclude`),
    defaults: parseDefaults(block, path),
    vfDriver: parseDriver(block.vf_driver, `${path}.vf_driver`),
  };
  const numVfs = block.num_vfs === undefined ? undefined : integer(block.num_vfs, `${path}.num_vfs`, 1, MAX_VFS);
  return { ...base, ...(numVfs === undefined ? {} : { numVfs }), ...(access === undefined ? {} : { vlan: access }) };
}

/** Is the VF (its index on its PF, its address) excluded from the pool? */
export const isExcluded = (exclusions: readonly VfExclusion[], index: number, address: PciAddress): boolean =>
  exclusions.some((rule) => (rule.kind === 'index' ? rule.index === index : rule.address === address));
