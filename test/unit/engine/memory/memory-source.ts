// A source of VMs that lives in memory: VM intents set by the test, as XAPI's
// or Xen's hotplug source will hand them over. New file, no engine change.
import type { IntentRead, VmSnapshot, VmSource, VmSummary } from '../../../../src/model/contracts.js';
import type { VifIntent, VmIntent } from '../../../../src/model/vm-intent.js';

export interface MemoryVm {
  readonly intent: VmIntent;
  active: boolean;
}

export class MemorySource implements VmSource {
  readonly vms = new Map<string, MemoryVm>();
  reads = 0;

  add(uuid: string, name: string, vifs: readonly { network: string; mac?: string }[], active = false): VmIntent {
    // Its VIFs are of the in-memory kind, which the shipped VifIntent union does not name.
    const intents = vifs.map((vif, index) => ({ index, kind: 'memory', ...vif }) as unknown as VifIntent);
    const intent: VmIntent = { uuid, name, vifs: intents, others: [] };
    this.vms.set(uuid, { intent, active });
    return intent;
  }

  /** What a start hands the engine (a hook, a XAPI event): this VM's intent. */
  starting(uuid: string): { read(): Promise<IntentRead> } {
    return { read: () => Promise.resolve({ intent: this.vm(uuid).intent }) };
  }

  private vm(uuid: string): MemoryVm {
    const vm = this.vms.get(uuid);
    if (vm === undefined) throw new Error(`no VM ${uuid}`);
    return vm;
  }

  list(): Promise<VmSummary[]> {
    return Promise.resolve([...this.vms.values()].map(({ intent, active }) => ({ uuid: intent.uuid, name: intent.name, active })));
  }

  get(uuid: string): Promise<VmSnapshot | null> {
    this.reads++;
    const vm = this.vms.get(uuid);
    if (vm === undefined) return Promise.resolve(null);
    const { intent, active } = vm;
    return Promise.resolve({
      uuid, name: intent.name, active,
      running: () => Promise.resolve({ intent, present: new Set<number>() }),
      definition: () => Promise.resolve({ intent }),
    });
  }
}
