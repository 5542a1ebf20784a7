// Several sources of VMs as the one the engine takes (libvirt's domains and
// the Xen domains known from hotplug calls): list merges them by UUID (a VM
// any source reports running is running), get asks each in order and takes
// the first that knows the VM. A source that fails fails the whole list: GC
// must never run without knowing which VMs live.
import type { DesiredVif } from '../model/plan.js';
import type { VmSnapshot, VmSource, VmSummary } from '../model/contracts.js';
import type { VmIdentity } from '../model/vm-intent.js';

export class CompositeSource implements VmSource {
  private readonly sources: readonly VmSource[];

  /** `sources` in the order get asks them (cheap in-memory ones first). */
  constructor(...sources: readonly VmSource[]) {
    this.sources = sources;
  }

  async list(): Promise<VmSummary[]> {
    const merged = new Map<string, VmSummary>();
    for (const vm of (await Promise.all(this.sources.map((source) => source.list()))).flat()) {
      const seen = merged.get(vm.uuid);
      if (seen === undefined || (!seen.active && vm.active)) merged.set(vm.uuid, vm);
    }
    return [...merged.values()];
  }

  async get(uuid: string): Promise<VmSnapshot | null> {
    for (const source of this.sources) {
      const snapshot = await source.get(uuid);
      if (snapshot !== null) return snapshot;
    }
    return null;
  }

  async recreated(vm: VmIdentity, vifs: readonly DesiredVif[]): Promise<boolean> {
    let acted = false;
    for (const source of this.sources) if (source.recreated !== undefined && await source.recreated(vm, vifs)) acted = true;
    return acted;
  }
}
