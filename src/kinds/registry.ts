// Every VIF kind and every step kind, in maps the compiler checks: a VIF plan
// kind without its module, or a step kind without its executor, does not
// compile. Adding a kind: a folder here, its host needs in `KindHosts`, and
// one entry in each map below.
import type { DesiredVif } from '../model/plan.js';
import type { StepExecutor, VifKind } from './kind.js';
import { netbackExecutors } from './netback/executors.js';
import { netbackKind } from './netback/index.js';
import type { NetbackHost, NetbackStep, ObservedNetbackVif } from './netback/index.js';
import { sriovVfExecutors } from './sriov-vf/executors.js';
import { sriovVfKind } from './sriov-vf/index.js';
import type { ObservedSriovVf, SriovVfHost, SriovVfStep } from './sriov-vf/index.js';
import { tapOvsExecutors } from './tap-ovs/executors.js';
import { tapOvsKind } from './tap-ovs/index.js';
import type { ObservedTapVif, TapOvsHost, TapOvsStep } from './tap-ovs/index.js';

/** What any kind owns on the host (a union over kinds). */
export type ObservedVif = ObservedTapVif | ObservedNetbackVif | ObservedSriovVf;
/** Every step any kind plans (a union over kinds). */
export type Step = TapOvsStep | NetbackStep | SriovVfStep;

/** The host effectors each kind needs. */
export type KindHosts = TapOvsHost & NetbackHost & SriovVfHost;

export type Kinds = { readonly [K in DesiredVif['kind']]: VifKind<Extract<DesiredVif, { kind: K }>, Extract<ObservedVif, { kind: K }>, Step> };
export type Executors = { readonly [K in Step['kind']]: StepExecutor<Extract<Step, { kind: K }>> };

/** The tables as the engine takes them: by kind name (tests may bring kinds of their own). */
export type KindTable = Readonly<Record<string, VifKind<DesiredVif, ObservedVif, Step>>>;
export type ExecutorTable = Readonly<Record<string, StepExecutor<Step>>>;

export function kindsOn(host: KindHosts): Kinds {
  return { tap: tapOvsKind(host), netback: netbackKind(host), 'sriov-vf': sriovVfKind(host) };
}

export function executorsOn(host: KindHosts): Executors {
  return { ...tapOvsExecutors(host), ...netbackExecutors(host), ...sriovVfExecutors(host) };
}
