// `vifctl attach` / `detach` on an XAPI VM, carried out through XAPI: a VIF
// made with VIF.create (the next device XAPI allows, vifd's deterministic
// MAC) and, on a running VM, VIF.plug; a plug XAPI refuses destroys the VIF
// again. Detach: VIF.unplug when attached, then VIF.destroy. xenopsd and
// vifd's vif script then make and plug the device; the XAPI source sees the
// change in its events. The plan is decided in attach-plan.ts.
import { PlugError, VifdError } from '../../model/errors.js';
import type { MacPrefix } from '../../model/mac.js';
import { describeVlan } from '../../model/vlan.js';
import type { XapiClient, XapiLog } from '../../xapi/client.js';
import type { FakeBridgeLookup } from '../xen-hotplug/daemon-side.js';
import { integer } from './fields.js';
import type { RecordLookup } from './fields.js';
import { findVifToDetach, findVmByName, planXapiAttach } from './attach-plan.js';
import type { AttachInput } from './attach-plan.js';
import { limitOf } from './guards.js';
import type { GuardSettings } from './guards.js';
import { readVm } from './vms.js';
import type { XapiVm } from './vms.js';
import type { XapiRecord } from '../../xapi/records.js';

export interface XapiHotPlugResult {
  readonly domain: string;
  readonly uuid: string;
  readonly index: number;
  /** vifD.N on a VM running here; "-" otherwise. */
  readonly device: string;
  readonly mac: string;
  readonly bridge: string;
  readonly vlan: string;
  /** An XAPI VIF is part of the VM's record: always persistent. */
  readonly persistent: true;
}

export interface XapiHotPlugOptions {
  readonly client: XapiClient;
  readonly records: () => RecordLookup;
  readonly hostRef: () => string | null;
  readonly limits: () => GuardSettings;
  readonly prefix: MacPrefix;
  readonly fakeBridge: FakeBridgeLookup;
  readonly log: XapiLog;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class XapiHotPlug {
  constructor(private readonly options: XapiHotPlugOptions) {}

  /** The XAPI VM named (uuid or name), or null when XAPI has none such (the VM is another source's). */
  vm(domain: string): XapiVm | null {
    return findVmByName(this.options.records(), domain);
  }

  private where(bridge: string): { bridge: string; vlan: string } {
    const fake = this.options.fakeBridge(bridge);
    if (fake === null) return { bridge, vlan: 'untagged' };
    return { bridge: fake.parent, vlan: describeVlan(fake.tag === null ? { mode: 'none' } : { mode: 'access', tag: fake.tag }) };
  }

  /**
   * The VM as XAPI has it now, not as the last event told: whether to plug
   * must not depend on an event still on its way.
   */
  private async current(vm: XapiVm): Promise<{ vm: XapiVm; running: boolean; deviceOf: (index: number) => string }> {
    const record = await this.options.client.call('VM.get_record', vm.ref);
    const now = typeof record === 'object' && record !== null && !Array.isArray(record) ? record as XapiRecord : {};
    const fresh = readVm(vm.ref, now);
    const running = fresh.powerState === 'Running' || fresh.powerState === 'Paused';
    const domid = integer(now, 'domid');
    const here = running && fresh.residentOn !== null && fresh.residentOn === this.options.hostRef() && domid !== null && domid >= 0;
    return { vm: fresh, running, deviceOf: (index) => (here ? `vif${String(domid)}.${index}` : '-') };
  }

  async attach(named: XapiVm, input: AttachInput): Promise<XapiHotPlugResult> {
    const { client, prefix } = this.options;
    const { vm, running, deviceOf } = await this.current(named);
    const records = this.options.records();
    const { limit, problem } = limitOf(vm, this.options.limits());
    if (limit === null) throw new PlugError(problem ?? 'no VIF limit', { domain: vm.name, vmUuid: vm.uuid });
    const allowed = await client.call('VM.get_allowed_VIF_devices', vm.ref);
    const plan = planXapiAttach(records, vm, input, Array.isArray(allowed) ? allowed.filter((item): item is string => typeof item === 'string') : [], limit, prefix);
    const vifRef = await client.call('VIF.create', {
      device: String(plan.device), network: plan.network.ref, VM: vm.ref, MAC: plan.mac, MTU: plan.network.mtu,
      other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
    });
    if (running) {
      try {
        await client.call('VIF.plug', vifRef);
      } catch (error) {
        await client.call('VIF.destroy', vifRef).catch((undo: unknown) => {
          this.options.log.error(`XAPI: VIF.plug failed and VIF.destroy of ${String(vifRef)} too: ${messageOf(undo)}`, { vmUuid: vm.uuid });
        });
        throw new PlugError(`XAPI refused to plug VIF ${plan.device}; it was destroyed again: ${messageOf(error)}`, { domain: vm.name, vmUuid: vm.uuid, vifIndex: plan.device }, { cause: error });
      }
    }
    this.options.log.info(`XAPI: attached VIF ${plan.device} to VM ${JSON.stringify(vm.name)} on ${plan.network.bridge}`, { vmUuid: vm.uuid, mac: plan.mac });
    return { domain: vm.name, uuid: vm.uuid, index: plan.device, device: deviceOf(plan.device), mac: plan.mac, ...this.where(plan.network.bridge), persistent: true };
  }

  async detach(named: XapiVm, which: { readonly index?: number; readonly mac?: string }): Promise<XapiHotPlugResult & { readonly state: 'removed' }> {
    const client = this.options.client;
    const { vm, running, deviceOf } = await this.current(named);
    const vif = findVifToDetach(this.options.records(), vm, which);
    const device = deviceOf(vif.device ?? -1);
    try {
      if (running && await client.call('VIF.get_currently_attached', vif.ref) === true) await client.call('VIF.unplug', vif.ref);
      await client.call('VIF.destroy', vif.ref);
    } catch (error) {
      if (error instanceof VifdError) throw error.withContext({ domain: vm.name, vmUuid: vm.uuid, vifIndex: vif.device ?? undefined });
      throw error;
    }
    this.options.log.info(`XAPI: detached VIF ${vif.device ?? '?'} from VM ${JSON.stringify(vm.name)}`, { vmUuid: vm.uuid, mac: vif.mac });
    return { domain: vm.name, uuid: vm.uuid, index: vif.device ?? -1, device, mac: vif.mac, ...this.where(vif.bridge), persistent: true, state: 'removed' };
  }
}
