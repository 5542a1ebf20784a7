// Applying the column diffs of OVSDB's "update2" notifications (monitor_cond,
// ovsdb-server(7)): a modified column carries only what changed. For a column
// of at most one value (optional ones too: ovsdb-server 3.1 sends Port.tag
// 100 -> 7 as 7 and a cleared tag as ["set", []], seen on the wire) the diff
// is the new value; for a set of more it is the symmetric difference, each
// element toggled; for a map, a key absent before is added, a key with the
// same value is removed, a key with another value takes the new one. So a
// port added to a bridge of thousands arrives as one UUID, not the whole
// Bridge.ports set twice.
import { set as setDatum, setElements } from './datum.js';
import type { Atom, Datum } from './datum.js';

export type ColumnKind = 'scalar' | 'set' | 'map';

/** The kind of a column from its schema type (RFC 7047 §3.2 <type>). */
export function columnKind(type: unknown): ColumnKind {
  if (typeof type !== 'object' || type === null) return 'scalar';
  const { value, max = 1 } = type as { value?: unknown; max?: unknown };
  if (value !== undefined) return 'map';
  return max === 1 ? 'scalar' : 'set';
}

/**
 * A comparable key of an atom: a UUID ref by its UUID, others by value. One
 * column holds one atom type, so keys cannot collide; no string is built, as
 * this runs for every element of a set of thousands.
 */
const atomKey = (atom: unknown): unknown => (Array.isArray(atom) ? atom[1] : atom);

function mapPairs(datum: unknown): [unknown, unknown][] {
  return Array.isArray(datum) && datum[0] === 'map' && Array.isArray(datum[1]) ? (datum[1] as [unknown, unknown][]) : [];
}

/** From this many elements a set is changed in place (Bridge.ports of a busy host). */
const IN_PLACE_SET_SIZE = 64;

function applySetDiff(before: unknown, diff: unknown): Datum {
  const toggled = new Map(setElements(diff).map((atom) => [atomKey(atom), atom]));
  const elements = setElements(before);
  if (elements.length < IN_PLACE_SET_SIZE) {
    const kept = elements.filter((atom) => !toggled.delete(atomKey(atom)));
    return setDatum([...kept, ...toggled.values()] as Atom[]);
  }
  // A copy of thousands of elements per update would be promoted, then dropped, by
  // the GC at each plug: its cost would grow with the host. The replica owns this
  // array (parsed from the wire); a set has no order, so a removal swaps in the last.
  for (let i = elements.length - 1; i >= 0; i--) {
    if (!toggled.delete(atomKey(elements[i]))) continue;
    elements[i] = elements[elements.length - 1];
    elements.pop();
  }
  elements.push(...toggled.values());
  // A new wrapper: listeners tell a changed column by identity (they read `toggled` for the elements).
  return setDatum(elements as Atom[]);
}

function applyMapDiff(before: unknown, diff: unknown): Datum {
  const result = new Map(mapPairs(before).map(([key, value]) => [atomKey(key), [key, value] as const]));
  for (const [key, value] of mapPairs(diff)) {
    const id = atomKey(key);
    const old = result.get(id);
    if (old === undefined) result.set(id, [key, value]);
    else if (atomKey(old[1]) === atomKey(value)) result.delete(id);
    else result.set(id, [key, value]);
  }
  return ['map', [...result.values()] as [Atom, Atom][]];
}

/** The column's new value from its old value and an update2 diff. */
export function applyColumnDiff(kind: ColumnKind, before: unknown, diff: unknown): unknown {
  if (kind === 'set') return applySetDiff(before, diff);
  if (kind === 'map') return applyMapDiff(before, diff);
  return diff;
}
