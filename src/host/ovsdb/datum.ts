// OVSDB's JSON encoding of values (RFC 7047 §5.1): atoms, ["uuid", u],
// ["named-uuid", n], ["set", [...]] and ["map", [[k, v], ...]]. A set of one
// element may come as the bare atom; an empty optional value is ["set", []].
/** A reference to a row: by its UUID, or by a name given to a row inserted in the same transaction. */
export type Ref = readonly ['uuid' | 'named-uuid', string];
export type Atom = string | number | boolean | Ref;
export type Datum = Atom | readonly ['set', readonly Atom[]] | readonly ['map', readonly (readonly [Atom, Atom])[]];

export const uuid = (value: string): Ref => ['uuid', value];
export const namedUuid = (name: string): Ref => ['named-uuid', name];
export const set = (values: readonly Atom[]): Datum => ['set', values];
export const emptySet: Datum = ['set', []];
export const map = (entries: Readonly<Record<string, string>>): Datum =>
  ['map', Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))];

function isTagged(value: unknown, tag: string): value is [string, unknown] {
  return Array.isArray(value) && value.length === 2 && value[0] === tag;
}

/** The elements of a set column, whichever of the two encodings was used. */
export function setElements(datum: unknown): unknown[] {
  if (isTagged(datum, 'set')) return Array.isArray(datum[1]) ? (datum[1] as unknown[]) : [];
  return datum === undefined ? [] : [datum];
}

/** A string-to-string map column (external_ids, other_config, options). */
export function stringMap(datum: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isTagged(datum, 'map') || !Array.isArray(datum[1])) return out;
  for (const pair of datum[1] as unknown[]) {
    if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string') out[pair[0]] = pair[1];
  }
  return out;
}

/** A string-to-integer map column (Interface.statistics). */
export function integerMap(datum: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!isTagged(datum, 'map') || !Array.isArray(datum[1])) return out;
  for (const pair of datum[1] as unknown[]) {
    if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'number') out[pair[0]] = pair[1];
  }
  return out;
}

/** The UUID in a ["uuid", u] atom, or null. */
export function uuidOf(datum: unknown): string | null {
  return isTagged(datum, 'uuid') && typeof datum[1] === 'string' ? datum[1] : null;
}

/** An optional integer column (a set of 0 or 1 integers). */
export function optionalInteger(datum: unknown): number | null {
  const [value] = setElements(datum);
  return typeof value === 'number' ? value : null;
}

/** An optional string column. */
export function optionalString(datum: unknown): string | null {
  const [value] = setElements(datum);
  return typeof value === 'string' ? value : null;
}

/** Integer set columns such as Port.trunks, sorted. */
export function integerSet(datum: unknown): number[] {
  return setElements(datum).filter((value): value is number => typeof value === 'number').sort((a, b) => a - b);
}
