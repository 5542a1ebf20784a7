// VLAN ids, trunk lists and Open vSwitch vlan_mode rules. Every input here
// comes from a VM definition or the host config: garbage is refused with the
// offending text, never coerced.
import { InvalidInputError, describeValue } from './errors.js';

export const MIN_VLAN = 1;
export const MAX_VLAN = 4094;
const DECIMAL = /^(0|[1-9]\d*)$/;

export type VlanMode = 'access' | 'trunk' | 'native-tagged' | 'native-untagged';
export const VLAN_MODES: readonly VlanMode[] = ['access', 'trunk', 'native-tagged', 'native-untagged'];

/** A VLAN id 1-4094 given as an integer or a plain decimal string. */
export function parseVlanId(input: unknown, field = 'vlan'): number {
  let id: number | null = null;
  if (typeof input === 'number' && Number.isInteger(input)) id = input;
  else if (typeof input === 'string' && DECIMAL.test(input)) id = Number(input);
  if (id === null) throw new InvalidInputError(`${describeValue(input)} is not a VLAN id (an integer ${MIN_VLAN}-${MAX_VLAN})`, { field, value: input });
  if (id < MIN_VLAN || id > MAX_VLAN) throw new InvalidInputError(`${describeValue(input)} is outside ${MIN_VLAN}-${MAX_VLAN}`, { field, value: input });
  return id;
}

function parseTrunkItem(item: unknown, field: string): [number, number] {
  if (typeof item === 'string' && item.includes('-')) {
    const [low, high, extra] = item.split('-');
    if (extra !== undefined || low === undefined || high === undefined) {
      throw new InvalidInputError(`${describeValue(item)} is not a VLAN range (like 200-210)`, { field, value: item });
    }
    const [first, last] = [parseVlanId(low.trim(), field), parseVlanId(high.trim(), field)];
    if (first > last) throw new InvalidInputError(`range ${describeValue(item)} runs backwards`, { field, value: item });
    return [first, last];
  }
  const id = parseVlanId(typeof item === 'string' ? item.trim() : item, field);
  return [id, id];
}

/**
 * "100,200-210" or [100, "200-210"] -> sorted VLAN ids. A VLAN named twice
 * (directly or through overlapping ranges) is refused: it is almost always a
 * typo in a range, and silently merging would hide it.
 */
export function parseTrunks(input: unknown, field = 'trunks'): number[] {
  let items: unknown[];
  if (typeof input === 'string') items = input.split(',');
  else if (Array.isArray(input)) items = input;
  else if (typeof input === 'number') items = [input];
  else throw new InvalidInputError(`expected a VLAN list like "100,200-210", got ${describeValue(input)}`, { field, value: input });
  if (items.length === 0 || (items.length === 1 && items[0] === '')) {
    throw new InvalidInputError('the trunk list is empty', { field, value: input });
  }
  const seen = new Set<number>();
  for (const item of items) {
    if (typeof item === 'string' && item.trim() === '') {
      throw new InvalidInputError(`${describeValue(input)} has an empty item`, { field, value: input });
    }
    const [first, last] = parseTrunkItem(item, field);
    for (let id = first; id <= last; id++) {
      if (seen.has(id)) throw new InvalidInputError(`VLAN ${id} is listed twice in ${describeValue(input)}`, { field, value: input });
      seen.add(id);
    }
  }
  return [...seen].sort((a, b) => a - b);
}

/** Sorted ids -> the shortest "100,200-210" text; parseTrunks reads it back. */
export function formatTrunks(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let start = 0; start < sorted.length;) {
    let end = start;
    while (end + 1 < sorted.length && sorted[end + 1] === (sorted[end] ?? 0) + 1) end++;
    parts.push(end === start ? `${sorted[start]}` : `${sorted[start]}-${sorted[end]}`);
    start = end + 1;
  }
  return parts.join(',');
}

/** Port VLAN settings as Open vSwitch applies them. 'none': no tag, no trunks. */
export type VlanSettings =
  | { readonly mode: 'none' }
  | { readonly mode: 'access'; readonly tag: number }
  | { readonly mode: 'trunk'; readonly trunks: readonly number[] }
  | { readonly mode: 'native-tagged' | 'native-untagged'; readonly tag: number; readonly trunks?: readonly number[] };

export interface VlanSettingsInput {
  readonly mode?: unknown;
  readonly tag?: unknown;
  readonly trunks?: unknown;
}

function parseMode(input: unknown, field: string): VlanMode {
  if (typeof input === 'string' && (VLAN_MODES as readonly string[]).includes(input)) return input as VlanMode;
  throw new InvalidInputError(`${describeValue(input)} is not a VLAN mode (${VLAN_MODES.join(', ')})`, { field, value: input });
}

/**
 * Normalizes tag/trunks/mode with OVS's meaning: access carries one VLAN
 * untagged; trunk carries the listed VLANs tagged; native-* carry the tag
 * VLAN untagged (native-untagged) or tagged (native-tagged) plus the trunks.
 * Mode defaults to access for a tag alone and trunk for trunks alone.
 */
export function validateVlanSettings(input: VlanSettingsInput, fieldPrefix = ''): VlanSettings {
  const at = (name: string): string => `${fieldPrefix}${name}`;
  const tag = input.tag === undefined ? undefined : parseVlanId(input.tag, at('vlan'));
  const trunks = input.trunks === undefined ? undefined : parseTrunks(input.trunks, at('trunks'));
  const mode = input.mode === undefined ? undefined : parseMode(input.mode, at('vlan_mode'));
  const chosen = mode ?? (tag !== undefined && trunks === undefined ? 'access' : trunks !== undefined && tag === undefined ? 'trunk' : undefined);

  if (chosen === undefined) {
    if (tag !== undefined && trunks !== undefined) {
      throw new InvalidInputError('a VLAN tag and trunks together need vlan_mode native-tagged or native-untagged', { field: at('vlan_mode') });
    }
    return { mode: 'none' };
  }
  if (chosen === 'access') {
    if (tag === undefined) throw new InvalidInputError('access mode needs a VLAN tag', { field: at('vlan') });
    if (trunks !== undefined) throw new InvalidInputError('access mode carries one VLAN; remove trunks or use a native mode', { field: at('trunks') });
    return { mode: 'access', tag };
  }
  if (chosen === 'trunk') {
    if (trunks === undefined) throw new InvalidInputError('trunk mode needs a trunk list', { field: at('trunks') });
    if (tag !== undefined) throw new InvalidInputError('trunk mode takes no VLAN tag; use native-tagged or native-untagged', { field: at('vlan') });
    return { mode: 'trunk', trunks };
  }
  if (tag === undefined) throw new InvalidInputError(`${chosen} mode needs a VLAN tag (the native VLAN)`, { field: at('vlan') });
  return trunks === undefined ? { mode: chosen, tag } : { mode: chosen, tag, trunks };
}

/** One phrase for tables and logs: `untagged`, `access 100`, `trunk 200-202`, `native-untagged 10 trunks 20,30`. */
export const describeVlan = (vlan: VlanSettings): string => {
  switch (vlan.mode) {
    case 'none': return 'untagged';
    case 'access': return `access ${vlan.tag}`;
    case 'trunk': return `trunk ${formatTrunks(vlan.trunks)}`;
    default: return `${vlan.mode} ${vlan.tag}${vlan.trunks === undefined ? '' : ` trunks ${formatTrunks(vlan.trunks)}`}`;
  }
};
