// The Xen VMs vifd knows from hotplug calls, as a VmSource for the engine.
// Each hotplug call names ONE device, so what the VM's other Xen VIFs are is
// kept here, in memory, to plan the VM as a whole (the VIF limit counts them).
// A VM is running while one of its devices exists (netback removes a domain's
// vifD.N when it dies), so reconcile and GC remove ports whose device is gone.
// After a restart the memory is rebuilt from what the switch holds (invariant
// 1: ownership lives where the thing lives), through `recover`.
import type { VmSnapshot, VmSource, VmSummary } from '../../model/contracts.js';
import type { NetbackVifIntent, VmIntent } from '../../model/vm-intent.js';

/** One Xen VIF as the switch remembers it (the netback kind reads it back from the port). */
export interface RecoveredXenVif {
  readonly vmUuid: string;
  readonly vmName: string | null;
  readonly vif: NetbackVifIntent;
}

export interface XenDevicesView {
  /** The device exists on this host (sysfs). */
  exists(name: string): boolean;
  /**
   * What the switch holds of the Xen VIFs vifd plugged; read once, when the
   * source is first asked after the switch's view is loaded (null until then).
   */
  recover(): readonly RecoveredXenVif[] | null;
}

interface KnownVm {
  readonly name: string;
  /** By device name: a PV device and its emulated twin (vif7.0, tap7.0) are two entries of one devid. */
  readonly vifs: ReadonlyMap<string, NetbackVifIntent>;
}

const byDevid = (a: NetbackVifIntent, b: NetbackVifIntent): number => a.index - b.index || a.device.localeCompare(b.device);

export class XenVms implements VmSource {
  private readonly vms = new Map<string, KnownVm>();
  private recovered = false;

  constructor(private readonly devices: XenDevicesView) {}

  private known(): Map<string, KnownVm> {
    const recovered = this.recovered ? null : this.devices.recover();
    if (recovered !== null) {
      this.recovered = true;
      for (const { vmUuid, vmName, vif } of recovered) {
        if (this.vms.get(vmUuid)?.vifs.has(vif.device) === true) continue; // a plug since then knows better
        const vm = this.vms.get(vmUuid);
        this.vms.set(vmUuid, { name: vm?.name ?? vmName ?? vmUuid, vifs: new Map([...vm?.vifs ?? [], [vif.device, vif]]) });
      }
    }
    return this.vms;
  }

  /**
   * The VM's Xen VIFs, `replacing` one (a plug) or without `removing` one (an
   * unplug). Devices that are gone are no VIFs any more: not counted, not plugged again.
   */
  intentWith(uuid: string, name: string | undefined, change: { replacing?: NetbackVifIntent; removing?: string }): VmIntent {
    const vm = this.known().get(uuid);
    const vifs = (vm === undefined ? [] : this.present(vm)).filter((vif) => vif.device !== change.replacing?.device && vif.device !== change.removing);
    if (change.replacing !== undefined) vifs.push(change.replacing);
    return { uuid, name: name ?? vm?.name ?? uuid, vifs: vifs.sort(byDevid), others: [] };
  }

  /** Records what a plug or unplug made true; a VM without VIFs is forgotten. */
  remember(intent: VmIntent): void {
    const vifs = intent.vifs.flatMap((vif) => (vif.kind === 'netback' ? [[vif.device, vif] as const] : []));
    if (vifs.length === 0) this.vms.delete(intent.uuid);
    else this.vms.set(intent.uuid, { name: intent.name, vifs: new Map(vifs) });
  }

  knows(uuid: string): boolean {
    return this.known().has(uuid);
  }

  /** The VM a device belongs to (an unplug from a half-gone domain may not say). */
  ownerOf(device: string): string | undefined {
    for (const [uuid, vm] of this.known()) if (vm.vifs.has(device)) return uuid;
    return undefined;
  }

  private present(vm: KnownVm): NetbackVifIntent[] {
    return [...vm.vifs.values()].filter((vif) => this.devices.exists(vif.device)).sort(byDevid);
  }

  list(): Promise<VmSummary[]> {
    const summaries: VmSummary[] = [];
    for (const [uuid, vm] of this.known()) {
      const active = this.present(vm).length > 0;
      summaries.push({ uuid, name: vm.name, active });
      // Reported gone once: reconcile and GC take its ports away; a new plug brings it back.
      if (!active) this.vms.delete(uuid);
    }
    return Promise.resolve(summaries);
  }

  get(uuid: string): Promise<VmSnapshot | null> {
    const vm = this.known().get(uuid);
    if (vm === undefined) return Promise.resolve(null);
    // Devices that are gone are not wanted: their ports go, the others stay.
    const intent: VmIntent = { uuid, name: vm.name, vifs: this.present(vm), others: [] };
    return Promise.resolve({
      uuid, name: vm.name, active: intent.vifs.length > 0,
      running: () => Promise.resolve({ intent, present: new Set<number>() }),
      definition: () => Promise.resolve({ intent }),
    });
  }
}
