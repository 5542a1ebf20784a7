// NIC hot-plug and hot-unplug of running VMs, in the VM's queue like every
// other change to it. Attach: plan the next VIF (the limit applies), make its
// TAP and port, record the intent in the VM's metadata, then ask libvirt to
// attach the rendered interface; anything libvirt refuses is rolled back.
// Detach: drop the intent entry, then ask libvirt; the TAP and port stay
// (held) until the guest has released the device, never less.
import { InvalidInputError, PlugError, VifdError } from '../../model/errors.js';
import type { ErrorContext } from '../../model/errors.js';
import { parseDomainXml } from './domain-xml.js';
import type { DomainDefinition, VifIntent, VifdIntent } from './domain-xml.js';
import { nextFreeIndex, renderIntentMetadata, withVif, withoutVif } from './metadata.js';
import { renderTapInterface, renderVfInterface } from './render.js';
import type { VifControl } from '../../model/contracts.js';
import type { DesiredVif, VifPlan } from '../../model/plan.js';
import { describeVlan } from '../../model/vlan.js';
import type { DomainControl, SourceLog } from './control.js';
import { domainIntent } from './intent.js';
import { waitUntilDetached } from './replug.js';

export interface AttachRequest {
  readonly network: string;
  readonly mac?: string;
  readonly vlan?: string;
}

export interface HotPlugResult {
  readonly domain: string;
  readonly uuid: string;
  readonly index: number;
  readonly device: string;
  readonly mac: string;
  readonly bridge: string;
  readonly vlan: string;
  /** Also changed in the persistent definition. */
  readonly persistent: boolean;
}

export interface DetachResult extends HotPlugResult {
  /** removed: the guest released it and the TAP and port are gone; pending: libvirt is still waiting for the guest. */
  readonly state: 'removed' | 'pending';
}

/** How long detach waits for the guest to release the device before answering "pending". */
const DEFAULT_RELEASE_WAIT_MS = 10_000;

const result = (domain: DomainDefinition, vif: DesiredVif, persistent: boolean): HotPlugResult => ({
  domain: domain.name, uuid: domain.uuid, index: vif.index, device: vif.device, mac: vif.mac, bridge: vif.bridge, vlan: describeVlan(vif.vlan), persistent,
});

function withVmContext<T>(context: ErrorContext, work: () => Promise<T>): Promise<T> {
  return work().catch((error: unknown) => { throw error instanceof VifdError ? error.withContext(context) : error; });
}

export class HotPlug {
  constructor(
    private readonly engine: VifControl,
    private readonly control: DomainControl,
    private readonly template: string,
    private readonly log: SourceLog,
    private readonly releaseWaitMs = DEFAULT_RELEASE_WAIT_MS,
    /** xml-templates/hostdev-interface.xml: without it an SR-IOV VIF cannot be hot-plugged. */
    private readonly hostdevTemplate?: string,
  ) {}

  /** The device XML libvirt attaches or detaches for a planned VIF. */
  private render(vif: VifPlan, domain: DomainDefinition): string {
    if (vif.kind !== 'sriov-vf') return renderTapInterface(this.template, vif);
    if (this.hostdevTemplate === undefined) throw new InvalidInputError('SR-IOV hot-plug is not set up (no hostdev template)', { vifIndex: vif.index, field: 'network' });
    return renderVfInterface(this.hostdevTemplate, vif, domain.hypervisorType);
  }

  private async running(ref: string): Promise<{ uuid: string; name: string; persistent: boolean }> {
    const found = await this.control.find(ref);
    if (!found.active) {
      throw new InvalidInputError('is not running; hot-plug needs a running VM (for a stopped one, edit its definition and run vifctl define)',
        { domain: found.name, vmUuid: found.uuid });
    }
    return found;
  }

  /** The persistent definition's intent with `change` applied (it may differ from the live one). */
  private async persistentIntent(uuid: string, change: (intent: VifdIntent) => VifdIntent): Promise<string> {
    const persistent = parseDomainXml(await this.control.definition(uuid, 'persistent'));
    return renderIntentMetadata(change(persistent.intent ?? { vifs: [] }));
  }

  async attach(ref: string, request: AttachRequest): Promise<HotPlugResult> {
    const vm = await this.running(ref);
    return withVmContext({ domain: vm.name, vmUuid: vm.uuid }, () => this.engine.inVmQueue(vm.uuid, async () => {
      const domain = parseDomainXml(await this.control.definition(vm.uuid, 'live'));
      const before = domain.intent ?? { vifs: [] };
      const intent: VifIntent = { index: nextFreeIndex(domain, before), network: request.network, kind: 'tap',
        ...(request.mac === undefined ? {} : { mac: request.mac }), ...(request.vlan === undefined ? {} : { vlan: request.vlan }) };
      const planned = this.engine.plan(domainIntent(domain, withVif(before, intent))).vifs.find((vif) => vif.index === intent.index);
      if (planned === undefined) throw new Error(`planner lost VIF ${intent.index}`);
      // An SR-IOV VIF's entry records the VF the planner claimed (the VF lives in the definition).
      const entry: VifIntent = planned.kind === 'sriov-vf' ? { index: intent.index, kind: 'sriov-vf', network: request.network, vf: planned.vf.address, ...(request.mac === undefined ? {} : { mac: request.mac }) } : intent;
      const after = withVif(before, entry);
      const vif: DesiredVif = { ...planned, vmUuid: vm.uuid, vmName: vm.name };
      const kept = this.engine.wantedFor(vm.uuid);
      let intentWritten = false;
      try {
        const plugged = await this.engine.applyFor(vm, [...kept, vif]);
        const failure = plugged.failures[0];
        if (failure !== undefined) throw new PlugError(`could not plug VIF ${vif.index}: ${failure.error.message}`, {}, { cause: failure.error });
        // Intent first: an interface libvirt shows without intent would look like someone else's.
        await this.control.setIntent(vm.uuid, renderIntentMetadata(after), { live: true });
        if (vm.persistent) await this.control.setIntent(vm.uuid, await this.persistentIntent(vm.uuid, (current) => withVif(current, entry)), { config: true });
        intentWritten = true;
        await this.control.attachInterface(vm.uuid, this.render(planned, domain), { live: true, config: vm.persistent });
      } catch (error) {
        await this.engine.applyFor(vm, kept);
        if (intentWritten) await this.restoreIntent(vm, before, intent.index);
        throw error;
      }
      this.log.info(`attached VIF ${vif.index} (${vif.device}) to VM ${JSON.stringify(vm.name)}`, { domain: vm.name, vmUuid: vm.uuid, vif: vif.index });
      return result(domain, vif, vm.persistent);
    }));
  }

  /**
   * A VF is released only once the guest let it go: its live intent entry
   * stays (it names the hostdev interface, so the VF stays held) until libvirt
   * shows the device gone; if the guest is slow, the entry is dropped when the
   * removal is seen (as for an interface detached elsewhere), never before.
   */
  private async detachVf(vm: { uuid: string; name: string; persistent: boolean }, domain: DomainDefinition, intent: VifdIntent, vif: DesiredVif, xml: string): Promise<DetachResult> {
    this.engine.hold(vm.uuid, vif.index);
    try {
      await this.control.detachInterface(vm.uuid, xml, { live: true, config: vm.persistent });
    } catch (error) {
      this.engine.unhold(vm.uuid, vif.index);
      throw error;
    }
    if (vm.persistent) await this.control.setIntent(vm.uuid, await this.persistentIntent(vm.uuid, (current) => withoutVif(current, vif.index)), { config: true });
    const released = await waitUntilDetached(this.control, vm.uuid, vif.device, this.releaseWaitMs);
    if (!released) return { ...result(domain, vif, vm.persistent), state: 'pending' as const };
    await this.control.setIntent(vm.uuid, renderIntentMetadata(withoutVif(intent, vif.index)), { live: true });
    this.engine.unhold(vm.uuid, vif.index);
    const removed = await this.engine.applyFor(vm, this.engine.wantedFor(vm.uuid).filter((other) => other.device !== vif.device));
    const failure = removed.failures[0];
    if (failure !== undefined) throw failure.error;
    this.log.info(`detached VIF ${vif.index} (VF ${vif.kind === 'sriov-vf' ? vif.vf.address : ''}) from VM ${JSON.stringify(vm.name)}`, { domain: vm.name, vmUuid: vm.uuid, vif: vif.index });
    return { ...result(domain, vif, vm.persistent), state: 'removed' as const };
  }

  private async restoreIntent(vm: { uuid: string; persistent: boolean }, before: VifdIntent, index: number): Promise<void> {
    try {
      await this.control.setIntent(vm.uuid, renderIntentMetadata(before), { live: true });
      if (vm.persistent) await this.control.setIntent(vm.uuid, await this.persistentIntent(vm.uuid, (current) => withoutVif(current, index)), { config: true });
    } catch (error) {
      this.log.error(`rolling back the intent of VM ${vm.uuid} failed: ${(error as Error).message}`, { vmUuid: vm.uuid });
    }
  }

  async detach(ref: string, which: { readonly index?: number; readonly mac?: string }): Promise<DetachResult> {
    const vm = await this.running(ref);
    return withVmContext({ domain: vm.name, vmUuid: vm.uuid }, () => this.engine.inVmQueue(vm.uuid, async () => {
      const domain = parseDomainXml(await this.control.definition(vm.uuid, 'live'));
      const intent = domain.intent ?? { vifs: [] };
      const vifs = this.engine.plan(domainIntent(domain, intent)).vifs;
      const target = vifs.find((vif) => (which.index !== undefined ? vif.index === which.index : vif.mac === which.mac?.toLowerCase()));
      if (target === undefined) {
        const has = vifs.map((vif) => `${vif.index} (${vif.mac})`).join(', ') || 'none';
        throw new InvalidInputError(`no vifd VIF ${which.index !== undefined ? `with index ${which.index}` : `with MAC ${which.mac ?? ''}`} (it has: ${has})`, { field: which.index !== undefined ? 'index' : 'mac' });
      }
      const vif: DesiredVif = { ...target, vmUuid: vm.uuid, vmName: vm.name };
      const entry = intent.vifs.find((candidate) => candidate.index === target.index) ?? { index: target.index, network: target.network, kind: 'tap' as const };
      const xml = this.render(target, domain);
      if (target.kind === 'sriov-vf') return this.detachVf(vm, domain, intent, vif, xml);
      // Intent first: an interface without intent is held as it is until the guest lets it go,
      // where an intent entry without its interface would be plugged again ahead of an attach.
      this.engine.hold(vm.uuid, target.index);
      await this.control.setIntent(vm.uuid, renderIntentMetadata(withoutVif(intent, target.index)), { live: true });
      if (vm.persistent) {
        await this.control.setIntent(vm.uuid, await this.persistentIntent(vm.uuid, (current) => withoutVif(current, target.index)), { config: true });
      }
      try {
        await this.control.detachInterface(vm.uuid, xml, { live: true, config: vm.persistent });
      } catch (error) {
        this.engine.unhold(vm.uuid, target.index);
        await this.control.setIntent(vm.uuid, renderIntentMetadata(intent), { live: true });
        if (vm.persistent) await this.control.setIntent(vm.uuid, await this.persistentIntent(vm.uuid, (current) => withVif(current, entry)), { config: true });
        throw error;
      }
      const released = await waitUntilDetached(this.control, vm.uuid, target.device, this.releaseWaitMs);
      if (!released) return { ...result(domain, vif, vm.persistent), state: 'pending' as const };
      this.engine.unhold(vm.uuid, target.index);
      const removed = await this.engine.applyFor(vm, this.engine.wantedFor(vm.uuid).filter((other) => other.device !== target.device));
      const failure = removed.failures[0];
      if (failure !== undefined) throw failure.error;
      this.log.info(`detached VIF ${vif.index} (${vif.device}) from VM ${JSON.stringify(vm.name)}`, { domain: vm.name, vmUuid: vm.uuid, vif: vif.index });
      return { ...result(domain, vif, vm.persistent), state: 'removed' as const };
    }));
  }
}
