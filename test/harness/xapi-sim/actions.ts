// VM and VIF operations of the simulated xapi: the checks XAPI makes (power
// state, blocked_operations, devices, MACs) with its error codes and params,
// and the xenopsd hooks awaited before anything is published.
import { XapiFailure } from './failure.js';
import { genMac } from './gen-mac.js';
import { NULL_REF, asText } from './schema.js';
import type { SimRecord, Value } from './schema.js';
import { newRef } from './store.js';
import type { SimStore } from './store.js';
import type { SimVifView, SimVmView, XenopsdHooks } from './xenopsd.js';

export interface ActionContext {
  readonly store: SimStore;
  hooks(): XenopsdHooks;
  /** 7 (xapi before v25.29) or 16 (since): what VM.get_allowed_VIF_devices offers. */
  vifDevices(): number;
  /** Where VM.start puts a VM: the pool master. */
  defaultHost(): string;
  nextDomid(): number;
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const VIF_CREATE_FIELDS = ['device', 'network', 'VM', 'MAC', 'MTU', 'other_config', 'qos_algorithm_type', 'qos_algorithm_params'];
const OPTIONAL_VIF_FIELDS = ['currently_attached', 'locking_mode', 'ipv4_allowed', 'ipv6_allowed', 'trunks'];

function asFailure(error: unknown): XapiFailure {
  if (error instanceof XapiFailure) return error;
  return new XapiFailure('INTERNAL_ERROR', [error instanceof Error ? error.message : String(error)]);
}

const asRecordMap = (value: Value | undefined): Record<string, Value> =>
  (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {});

export class SimActions {
  private readonly busy = new Map<string, string>();

  constructor(private readonly ctx: ActionContext) {}

  private get store(): SimStore {
    return this.ctx.store;
  }

  private vmView(ref: string, domid: number, hostRef: string): SimVmView {
    const record = this.store.get('VM', ref);
    return { ref, uuid: asText(record.uuid), domid, hostRef, record };
  }

  private vifView(ref: string): SimVifView {
    const record = this.store.get('VIF', ref);
    return { ref, uuid: asText(record.uuid), device: Number(record.device), record, networkRecord: this.store.get('network', record.network) };
  }

  private vifsOf(vmRef: string): string[] {
    const refs = this.store.field('VM', vmRef, 'VIFs') as string[];
    return refs.filter((ref) => this.store.has('VIF', ref))
      .sort((a, b) => Number(this.store.field('VIF', a, 'device')) - Number(this.store.field('VIF', b, 'device')));
  }

  private checkBlocked(vmRef: string, operation: string): void {
    const reason = asRecordMap(this.store.field('VM', vmRef, 'blocked_operations'))[operation];
    if (reason !== undefined) throw new XapiFailure('OPERATION_BLOCKED', [vmRef, asText(reason)]);
  }

  private checkPower(vmRef: string, expected: readonly string[]): string {
    const actual = this.store.text('VM', vmRef, 'power_state');
    if (!expected.includes(actual)) {
      throw new XapiFailure('VM_BAD_POWER_STATE', [vmRef, expected.map((state) => state.toLowerCase()).join(';'), actual.toLowerCase()]);
    }
    return actual;
  }

  /** One operation per VM at a time, as XAPI's current_operations enforce. */
  private async exclusive<T>(vmRef: string, operation: string, work: () => Promise<T>): Promise<T> {
    const running = this.busy.get(vmRef);
    if (running !== undefined) throw new XapiFailure('OTHER_OPERATION_IN_PROGRESS', ['VM', vmRef, running, NULL_REF]);
    this.busy.set(vmRef, operation);
    // As XAPI does, the operation shows in current_operations (keyed by its task) while it runs.
    const task = newRef();
    const uuid = this.store.text('VM', vmRef, 'uuid');
    this.store.update('VM', vmRef, (record) => { record.current_operations = { ...asRecordMap(record.current_operations), [task]: operation }; });
    try {
      return await work();
    } finally {
      this.busy.delete(vmRef);
      // Found by uuid: a simulated xapi restart meanwhile gave the VM a new ref.
      const now = this.store.refs('VM').find((ref) => this.store.text('VM', ref, 'uuid') === uuid);
      if (now !== undefined) {
        this.store.update('VM', now, (record) => {
          const operations = { ...asRecordMap(record.current_operations) };
          Reflect.deleteProperty(operations, task);
          record.current_operations = operations;
        });
      }
    }
  }

  allowedVifDevices(vmRef: string): string[] {
    const used = new Set(this.vifsOf(vmRef).map((ref) => Number(this.store.field('VIF', ref, 'device'))));
    return Array.from({ length: this.ctx.vifDevices() }, (_, device) => device)
      .filter((device) => !used.has(device)).map(String);
  }

  async start(vmRef: string, hostRef: string | null, operation = 'start'): Promise<string> {
    this.store.row('VM', vmRef);
    this.checkBlocked(vmRef, operation);
    if (hostRef !== null) this.store.row('host', hostRef);
    this.checkPower(vmRef, ['Halted']);
    return this.exclusive(vmRef, operation, async () => {
      const host = hostRef ?? this.ctx.defaultHost();
      const view = this.vmView(vmRef, this.ctx.nextDomid(), host);
      const vifs = this.vifsOf(vmRef);
      const plugged: SimVifView[] = [];
      const hooks = this.ctx.hooks();
      try {
        await hooks.onVmStart?.(view);
        for (const ref of vifs) {
          const vif = this.vifView(ref);
          await hooks.onVifPlug?.(view, vif);
          plugged.push(vif);
        }
      } catch (error) {
        for (const vif of plugged.reverse()) await hooks.onVifUnplug?.(view, vif).catch(() => undefined);
        await hooks.onVmShutdown?.(view).catch(() => undefined);
        throw asFailure(error);
      }
      this.store.update('VM', vmRef, (vm) => {
        vm.power_state = 'Running';
        vm.domid = view.domid;
        vm.resident_on = host;
      });
      this.store.update('host', host, (record) => { record.resident_VMs = [...(record.resident_VMs as string[]), vmRef]; });
      for (const vif of plugged) this.store.update('VIF', vif.ref, (record) => { record.currently_attached = true; });
      return '';
    });
  }

  async shutdown(vmRef: string, operation: string): Promise<string> {
    this.store.row('VM', vmRef);
    this.checkBlocked(vmRef, operation);
    this.checkPower(vmRef, ['Running', 'Paused']);
    return this.exclusive(vmRef, operation, async () => {
      const vm = this.store.get('VM', vmRef);
      const host = asText(vm.resident_on);
      const view = this.vmView(vmRef, Number(vm.domid), host);
      const attached = this.vifsOf(vmRef).filter((ref) => this.store.field('VIF', ref, 'currently_attached') === true);
      const hooks = this.ctx.hooks();
      try {
        for (const ref of attached.reverse()) await hooks.onVifUnplug?.(view, this.vifView(ref));
        await hooks.onVmShutdown?.(view);
      } catch (error) {
        throw asFailure(error);
      }
      for (const ref of attached) this.store.update('VIF', ref, (record) => { record.currently_attached = false; });
      if (this.store.has('host', host)) {
        this.store.update('host', host, (record) => { record.resident_VMs = (record.resident_VMs as string[]).filter((ref) => ref !== vmRef); });
      }
      this.store.update('VM', vmRef, (record) => {
        record.power_state = 'Halted';
        record.domid = -1;
        record.resident_on = NULL_REF;
      });
      return '';
    });
  }

  async poolMigrate(vmRef: string, hostRef: string): Promise<string> {
    this.store.row('VM', vmRef);
    this.checkBlocked(vmRef, 'pool_migrate');
    this.store.row('host', hostRef);
    this.checkPower(vmRef, ['Running']);
    return this.exclusive(vmRef, 'pool_migrate', async () => {
      const vm = this.store.get('VM', vmRef);
      const from = this.vmView(vmRef, Number(vm.domid), asText(vm.resident_on));
      const to = this.vmView(vmRef, this.ctx.nextDomid(), hostRef);
      try {
        await this.ctx.hooks().onVmMigrate?.(from, to);
      } catch (error) {
        throw asFailure(error);
      }
      if (this.store.has('host', from.hostRef)) {
        this.store.update('host', from.hostRef, (record) => { record.resident_VMs = (record.resident_VMs as string[]).filter((ref) => ref !== vmRef); });
      }
      this.store.update('host', hostRef, (record) => { record.resident_VMs = [...(record.resident_VMs as string[]), vmRef]; });
      this.store.update('VM', vmRef, (record) => {
        record.resident_on = hostRef;
        record.domid = to.domid;
      });
      return '';
    });
  }

  vifCreate(input: unknown): string {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new XapiFailure('FIELD_TYPE_ERROR', ['args']);
    const given = input as SimRecord;
    for (const field of VIF_CREATE_FIELDS) if (!(field in given)) throw new XapiFailure('FIELD_TYPE_ERROR', [field]);
    const vmRef = given.VM;
    const networkRef = given.network;
    this.store.row('VM', vmRef);
    this.store.row('network', networkRef);
    const device = given.device;
    if (typeof device !== 'string' || !/^\d+$/.test(device)) throw new XapiFailure('INVALID_DEVICE', [asText(device)]);
    if (this.vifsOf(asText(vmRef)).some((ref) => Number(this.store.field('VIF', ref, 'device')) === Number(device))) {
      throw new XapiFailure('DEVICE_ALREADY_EXISTS', [device]);
    }
    const mac = this.macFor(asText(vmRef), Number(device), given.MAC);
    const fields: SimRecord = { MAC: mac.mac, MAC_autogenerated: mac.generated, currently_attached: false };
    for (const field of [...VIF_CREATE_FIELDS, ...OPTIONAL_VIF_FIELDS]) {
      if (field !== 'MAC' && field !== 'currently_attached' && given[field] !== undefined) fields[field] = given[field] ?? null;
    }
    const ref = this.store.create('VIF', fields);
    this.store.update('VM', vmRef, (record) => { record.VIFs = [...(record.VIFs as string[]), ref]; });
    this.store.update('network', networkRef, (record) => { record.VIFs = [...(record.VIFs as string[]), ref]; });
    return ref;
  }

  private macFor(vmRef: string, device: number, given: Value | undefined): { mac: string; generated: boolean } {
    if (typeof given !== 'string') throw new XapiFailure('FIELD_TYPE_ERROR', ['MAC']);
    const seed = asRecordMap(this.store.field('VM', vmRef, 'other_config')).mac_seed;
    if (given === '' && typeof seed === 'string') return { mac: genMac(device, seed), generated: true };
    if (!MAC.test(given)) throw new XapiFailure('MAC_INVALID', [given]);
    return { mac: given.toLowerCase(), generated: false };
  }

  vifDestroy(vifRef: string): string {
    const vif = this.store.get('VIF', vifRef);
    const running = this.store.has('VM', vif.VM) && this.store.field('VM', vif.VM, 'power_state') === 'Running';
    if (running && vif.currently_attached === true) {
      throw new XapiFailure('OPERATION_NOT_ALLOWED', ['VIF currently attached to a running VM']);
    }
    const drop = (record: SimRecord): void => { record.VIFs = (record.VIFs as string[]).filter((ref) => ref !== vifRef); };
    if (this.store.has('VM', vif.VM)) this.store.update('VM', vif.VM, drop);
    if (this.store.has('network', vif.network)) this.store.update('network', vif.network, drop);
    this.store.destroy('VIF', vifRef);
    return '';
  }

  async vifPlug(vifRef: string, plug: boolean): Promise<string> {
    const vif = this.store.get('VIF', vifRef);
    const vmRef = asText(vif.VM);
    this.checkPower(vmRef, ['Running']);
    if (plug && vif.currently_attached === true) throw new XapiFailure('DEVICE_ALREADY_ATTACHED', [vifRef]);
    if (!plug && vif.currently_attached !== true) throw new XapiFailure('DEVICE_ALREADY_DETACHED', [vifRef]);
    const vm = this.store.get('VM', vmRef);
    const view = this.vmView(vmRef, Number(vm.domid), asText(vm.resident_on));
    const hooks = this.ctx.hooks();
    try {
      if (plug) await hooks.onVifPlug?.(view, this.vifView(vifRef));
      else await hooks.onVifUnplug?.(view, this.vifView(vifRef));
    } catch (error) {
      throw asFailure(error);
    }
    this.store.update('VIF', vifRef, (record) => { record.currently_attached = plug; });
    return '';
  }
}
