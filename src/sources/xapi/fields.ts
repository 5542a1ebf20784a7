// Reading fields of XAPI records (pure). Records are untrusted data: each
// reader takes what it can use and answers a neutral value for anything of
// the wrong type, so one odd record never stops the others from being read.
import type { XapiRecord } from '../../xapi/records.js';

/** The records vifd reads, by class and ref (the client's record cache satisfies it). */
export interface RecordLookup {
  get(cls: string, ref: string): XapiRecord | undefined;
  all(cls: string): ReadonlyMap<string, XapiRecord>;
}

export const NULL_REF = 'OpaqueRef:NULL';

export const text = (record: XapiRecord | undefined, field: string): string => {
  const value = record?.[field];
  return typeof value === 'string' ? value : '';
};

export const integer = (record: XapiRecord | undefined, field: string): number | null => {
  const value = record?.[field];
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
};

export const flag = (record: XapiRecord | undefined, field: string): boolean => record?.[field] === true;

export function stringMap(record: XapiRecord | undefined, field: string): Record<string, string> {
  const value = record?.[field];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

export function refList(record: XapiRecord | undefined, field: string): string[] {
  const value = record?.[field];
  return Array.isArray(value) ? value.filter((ref): ref is string => typeof ref === 'string' && ref !== NULL_REF) : [];
}

export function integerList(record: XapiRecord | undefined, field: string): number[] {
  const value = record?.[field];
  return Array.isArray(value) ? value.filter((item): item is number => typeof item === 'number' && Number.isInteger(item)) : [];
}

/** A list of strings (VIF.ipv4_allowed); items of another type are kept, for the caller's check to refuse. */
export function anyList(record: XapiRecord | undefined, field: string): unknown[] {
  const value = record?.[field];
  return Array.isArray(value) ? value : [];
}

/** A map field that is not empty (XAPI's current_operations: an operation is under way). */
export function hasEntries(record: XapiRecord | undefined, field: string): boolean {
  const value = record?.[field];
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0;
}
