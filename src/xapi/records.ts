// What XAPI sends back, checked before use: records are untrusted data
// (readers validate each field they take), but the envelope of an event.from
// batch must have the shape the event loop depends on. Pure.
import { XapiProtocolError } from './errors.js';

/** A record as XAPI sent it: field name to JSON value. */
export type XapiRecord = Readonly<Record<string, unknown>>;

/** The classes vifd follows, spelled as XAPI's datamodel spells them. */
export const XAPI_CLASSES = ['pool', 'host', 'network', 'PIF', 'VLAN', 'VM', 'VIF'] as const;

export const NULL_REF = 'OpaqueRef:NULL';

export interface XapiEvent {
  /** The class, as the subscription spelled it (XAPI sends it lowercase). */
  readonly className: string;
  readonly operation: 'add' | 'mod' | 'del';
  readonly ref: string;
  /** The whole record after the change; absent for del. */
  readonly snapshot?: XapiRecord;
}

export interface EventFromResult {
  readonly events: readonly XapiEvent[];
  readonly token: string;
  /** Live objects per class, lowercase keys, every table. */
  readonly validRefCounts: Readonly<Record<string, number>>;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function parseEvent(value: unknown, index: number, classNames: ReadonlyMap<string, string>): XapiEvent | null {
  if (!isObject(value)) throw new XapiProtocolError(`event.from: event ${index} is not an object`);
  const { class: cls, operation, ref, snapshot } = value;
  if (typeof cls !== 'string' || typeof ref !== 'string') throw new XapiProtocolError(`event.from: event ${index} lacks class or ref`);
  if (operation !== 'add' && operation !== 'mod' && operation !== 'del') {
    throw new XapiProtocolError(`event.from: event ${index} has operation ${JSON.stringify(operation)}`);
  }
  const className = classNames.get(cls.toLowerCase());
  if (className === undefined) return null; // a class nobody subscribed to (XAPI may add some): not ours
  if (operation === 'del') return { className, operation, ref };
  if (!isObject(snapshot)) throw new XapiProtocolError(`event.from: ${operation} event ${index} (${cls} ${ref}) has no snapshot`);
  return { className, operation, ref, snapshot };
}

/** Checks an event.from reply; event classes are mapped back to the subscribed spelling. */
export function parseEventFromResult(value: unknown, subscribed: readonly string[]): EventFromResult {
  if (!isObject(value)) throw new XapiProtocolError('event.from: the reply is not an object');
  const { events, token, valid_ref_counts: counts } = value;
  if (!Array.isArray(events)) throw new XapiProtocolError('event.from: events is not a list');
  if (typeof token !== 'string') throw new XapiProtocolError('event.from: token is not a string');
  const classNames = new Map(subscribed.map((name) => [name.toLowerCase(), name]));
  const parsed = (events as unknown[]).flatMap((event, index) => parseEvent(event, index, classNames) ?? []);
  const validRefCounts: Record<string, number> = {};
  if (isObject(counts)) for (const [key, count] of Object.entries(counts)) if (typeof count === 'number') validRefCounts[key] = count;
  return { events: parsed, token, validRefCounts };
}

/** A get_all_records reply: ref to record. */
export function parseAllRecords(value: unknown, cls: string): Map<string, XapiRecord> {
  if (!isObject(value)) throw new XapiProtocolError(`${cls}.get_all_records: the reply is not an object`);
  const records = new Map<string, XapiRecord>();
  for (const [ref, record] of Object.entries(value)) {
    if (!isObject(record)) throw new XapiProtocolError(`${cls}.get_all_records: ${ref} is not a record`);
    records.set(ref, record);
  }
  return records;
}
