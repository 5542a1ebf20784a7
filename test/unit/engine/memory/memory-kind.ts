// A VIF kind that lives in memory: a "link" per VIF, keyed by device name.
// It exists to prove that a kind is new files plus wiring: nothing in the
// engine knows it. Its planner, observer, diff, steps and executors are the
// whole contract a real kind (netback, SR-IOV VF) fills in.
import type { ExecutorTable, KindTable, ObservedVif, Step } from '../../../../src/kinds/registry.js';
import type { StepExecutor, VifKind } from '../../../../src/kinds/kind.js';
import type { Drift } from '../../../../src/model/drift.js';
import { InvalidInputError } from '../../../../src/model/errors.js';
import { takeMac } from '../../../../src/model/plan.js';
import type { DesiredVif, VifPlan, VifPlanner } from '../../../../src/model/plan.js';

export interface MemoryLink {
  readonly vmUuid: string;
  readonly index: number;
  mac: string;
  readonly network: string;
}

export interface ObservedMemoryVif {
  readonly kind: 'memory';
  readonly device: string;
  readonly vmUuid: string | null;
  readonly index: number | null;
  readonly link: MemoryLink;
}

type MemoryStep =
  | { readonly kind: 'memory-ensure'; readonly vif: DesiredVif }
  | { readonly kind: 'memory-delete'; readonly device: string };

export const memoryDevice = (vmUuid: string, index: number): string => `mem${vmUuid.slice(0, 8)}.${index}`;

/** The host of this kind: its links, and a count of executor runs. */
export class MemoryHost {
  readonly links = new Map<string, MemoryLink>();
  ensures = 0;
  deletes = 0;
}

const planMemoryVif: VifPlanner = (vm, intent, settings, taken) => {
  const network = settings.networks.get(intent.network);
  if (network === undefined) throw new InvalidInputError(`network ${JSON.stringify(intent.network)} is not defined`, { field: 'network' });
  const mac = takeMac(vm, intent, settings, taken);
  // The engine's DesiredVif is the union of the kinds vifd ships; this one joins it here only.
  return { kind: 'memory', index: intent.index, device: memoryDevice(vm.uuid, intent.index), mac: mac.mac, macSource: mac.source,
    macCollisions: mac.collisions, network: intent.network, bridge: network.bridge, vlan: network.vlan } as unknown as VifPlan;
};

function memoryKind(host: MemoryHost): VifKind<DesiredVif, ObservedMemoryVif, MemoryStep> {
  const observed = (device: string, link: MemoryLink): ObservedMemoryVif => ({ kind: 'memory', device, vmUuid: link.vmUuid, index: link.index, link });
  return {
    observe: (vmUuid) => [...host.links].filter(([, link]) => vmUuid === undefined || link.vmUuid === vmUuid).map(([device, link]) => observed(device, link)),
    diff: (want, seen): Drift[] => {
      if (seen === undefined) return [{ field: 'link', wanted: want.device, seen: 'none' }];
      return seen.link.mac === want.mac ? [] : [{ field: 'link.mac', wanted: want.mac, seen: seen.link.mac }];
    },
    repair: (want, _seen, drift) => (drift.length === 0 ? [] : [{ kind: 'memory-ensure', vif: want }]),
    remove: (seen) => [{ kind: 'memory-delete', device: seen.device }],
    describe: (seen) => ({ network: seen.link.network, mac: seen.link.mac, bridge: null, vlan: '-', tag: null, trunks: [], mtu: null, ofport: null }),
    macUsers: (mac) => [...host.links.values()].filter((link) => link.mac === mac).map((link) => link.vmUuid),
  };
}

function memoryExecutors(host: MemoryHost): { 'memory-ensure': StepExecutor<Extract<MemoryStep, { kind: 'memory-ensure' }>>; 'memory-delete': StepExecutor<Extract<MemoryStep, { kind: 'memory-delete' }>> } {
  return {
    'memory-ensure': {
      phase: 1, device: (step) => step.vif.device, context: (step) => ({ vmUuid: step.vif.vmUuid, vifIndex: step.vif.index }),
      run: (step, tally) => {
        host.ensures++;
        if (!host.links.has(step.vif.device)) tally.created.push(step.vif.device);
        host.links.set(step.vif.device, { vmUuid: step.vif.vmUuid, index: step.vif.index, mac: step.vif.mac, network: step.vif.network });
      },
    },
    'memory-delete': {
      phase: 3, device: (step) => step.device, context: () => ({}),
      run: (step, tally) => { host.deletes++; if (host.links.delete(step.device)) tally.destroyed++; },
    },
  };
}

/** The wiring: what the engine takes in its `kinds` option. */
export function memoryKinds(host: MemoryHost): { kinds: KindTable; executors: ExecutorTable; planners: Readonly<Record<string, VifPlanner>> } {
  // The engine's tables are typed by the kinds vifd ships; a test's own kind enters them by name.
  return {
    kinds: { memory: memoryKind(host) as unknown as VifKind<DesiredVif, ObservedVif, Step> },
    executors: memoryExecutors(host) as unknown as ExecutorTable,
    planners: { memory: planMemoryVif },
  };
}
