// RFC 7047 §5.2 transaction operations as data: built by pure code, asserted
// on by tests, sent as they are.
import type { Datum } from './datum.js';

export type Row = Readonly<Record<string, Datum>>;
export type ConditionFunction = '==' | '!=' | 'includes' | 'excludes' | '<' | '<=' | '>' | '>=';
export type Condition = readonly [column: string, fn: ConditionFunction, value: Datum];
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type Mutation = readonly [column: string, mutator: Mutator, value: Datum];

export type Operation =
  | { readonly op: 'insert'; readonly table: string; readonly row: Row; readonly 'uuid-name'?: string }
  | { readonly op: 'update'; readonly table: string; readonly where: readonly Condition[]; readonly row: Row }
  | { readonly op: 'mutate'; readonly table: string; readonly where: readonly Condition[]; readonly mutations: readonly Mutation[] }
  | { readonly op: 'delete'; readonly table: string; readonly where: readonly Condition[] }
  | { readonly op: 'select'; readonly table: string; readonly where: readonly Condition[]; readonly columns?: readonly string[] }
  | {
    readonly op: 'wait'; readonly table: string; readonly where: readonly Condition[]; readonly columns: readonly string[];
    readonly until: '==' | '!='; readonly rows: readonly Row[]; readonly timeout?: number;
  }
  | { readonly op: 'comment'; readonly comment: string };

/** What one operation returned; `error` is set on the failing one. */
export interface OperationResult {
  readonly uuid?: readonly ['uuid', string];
  readonly count?: number;
  readonly rows?: readonly Readonly<Record<string, unknown>>[];
  readonly error?: string;
  readonly details?: string;
}

export const byUuid = (uuid: string): Condition => ['_uuid', '==', ['uuid', uuid]];
export const byName = (name: string): Condition => ['name', '==', name];

/** How ovs-vsctl asks ovs-vswitchd to report back: bump next_cfg, read it in the same transaction. */
export const BUMP_NEXT_CFG: readonly Operation[] = [
  { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
  { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
];
