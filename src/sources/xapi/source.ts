// The XAPI source: the client's event watcher keeps a record cache current;
// this adapter answers the engine from it (VmSource), tells the daemon which
// VMs changed, and writes what the guards decide (blocked_operations) back
// through the client. Everything it decides is decided by the pure modules
// beside it (vms.ts, guards.ts); here are only calls and bookkeeping.
import type { VmSnapshot, VmSource, VmSummary } from '../../model/contracts.js';
import type { VmIntent } from '../../model/vm-intent.js';
import type { XapiClient, XapiLog } from '../../xapi/client.js';
import { isXapiError } from '../../xapi/errors.js';
import type { XapiRecordCache } from '../../xapi/cache.js';
import { XapiEventWatcher } from '../../xapi/watcher.js';
import type { WatcherState, XapiBatch } from '../../xapi/watcher.js';
import type { FakeBridgeLookup } from '../xen-hotplug/daemon-side.js';
import { text } from './fields.js';
import type { RecordLookup } from './fields.js';
import { blockedWrites, decideGuards } from './guards.js';
import type { DuplicateMac, GuardSettings, VmGuard } from './guards.js';
import { VIF_LIMIT_KEY, findVm, guestVms, placementOf, runningIntent, vifsOf } from './vms.js';
import type { XapiVif, XapiVm } from './vms.js';

export interface XapiLimitSettings extends GuardSettings {
  /** The host's default (vif_limit.default): the planner's, when an intent names no limit. */
  readonly hostDefault: number;
}

/** What changed, for the daemon: every VM (a resync) or these VM uuids. */
export type XapiChange = { readonly kind: 'resync' } | { readonly kind: 'vms'; readonly uuids: readonly string[] };

export interface XapiSourceOptions {
  readonly client: XapiClient;
  readonly hostUuid: string;
  readonly limits: () => XapiLimitSettings;
  readonly exists: (device: string) => boolean;
  readonly fakeBridge: FakeBridgeLookup;
  /** The host config's xen.allowed_bridges (absent: any bridge that exists). */
  readonly allowedBridges?: readonly string[];
  readonly onChange: (change: XapiChange) => void;
  readonly log: XapiLog;
  /** event.from's timeout in seconds (tests make it short). */
  readonly pollTimeoutS?: number;
}

export interface XapiVmStatus extends Omit<VmGuard, 'ref'> {
  /** XAPI's own VM.get_allowed_VIF_devices, as of the VM's last change; null before it was asked. */
  readonly allowedVifDevices: readonly string[] | null;
}

/** VM uuids an event batch touches; null: something every VM depends on changed (a network, a PIF, the host). */
function touchedRefs(events: Extract<XapiBatch, { kind: 'events' }>['events'], vifOwner: ReadonlyMap<string, string>): Set<string> | null {
  const refs = new Set<string>();
  for (const event of events) {
    if (event.className === 'VM') refs.add(event.ref);
    else if (event.className === 'VIF') {
      const owner = event.snapshot === undefined ? vifOwner.get(event.ref) : text(event.snapshot, 'VM');
      if (owner !== undefined) refs.add(owner);
      const before = vifOwner.get(event.ref);
      if (before !== undefined) refs.add(before);
    } else if (event.className !== 'pool') return null;
  }
  return refs;
}

export class XapiSource implements VmSource {
  private readonly watcher: XapiEventWatcher;
  private readonly vmUuids = new Map<string, string>();
  private readonly vifOwners = new Map<string, string>();
  private readonly allowed = new Map<string, readonly string[]>();
  private guards: VmGuard[] = [];
  private duplicates: DuplicateMac[] = [];

  constructor(private readonly options: XapiSourceOptions) {
    this.watcher = new XapiEventWatcher(options.client, {
      onBatch: (batch, cache) => this.onBatch(batch, cache), log: options.log, ...(options.pollTimeoutS === undefined ? {} : { pollTimeoutS: options.pollTimeoutS }),
    });
  }

  /** The records as of the last event batch. */
  get records(): RecordLookup {
    return this.watcher.cache;
  }

  start(): void {
    this.watcher.start();
  }

  /** Resolves once XAPI's records were loaded the first time. */
  synced(): Promise<void> {
    return this.watcher.synced();
  }

  get state(): WatcherState {
    return this.watcher.state;
  }

  get resyncCount(): number {
    return this.watcher.resyncCount;
  }

  async stop(): Promise<void> {
    await this.watcher.stop();
    await this.options.client.logout();
    this.options.client.close();
  }

  hostRef(): string | null {
    return this.watcher.cache.byUuid('host', this.options.hostUuid)?.ref ?? null;
  }

  private masterRef(): string | null {
    const [pool] = this.records.all('pool').values();
    const master = text(pool, 'master');
    return master === '' ? null : master;
  }

  private async onBatch(batch: XapiBatch, cache: XapiRecordCache): Promise<void> {
    const touched = batch.kind === 'resync' ? null : touchedRefs(batch.events, this.vifOwners);
    const uuids = touched === null ? null : [...touched].flatMap((ref) => {
      const uuid = text(cache.get('VM', ref), 'uuid').toLowerCase() || this.vmUuids.get(ref);
      return uuid === undefined || uuid === '' ? [] : [uuid];
    });
    this.remember(cache);
    this.options.onChange(uuids === null ? { kind: 'resync' } : { kind: 'vms', uuids });
    await this.enforce(touched);
  }

  /** Keeps what a later del event no longer says: a VM ref's uuid, a VIF's VM. */
  private remember(cache: XapiRecordCache): void {
    this.vmUuids.clear();
    for (const [ref, record] of cache.all('VM')) this.vmUuids.set(ref, text(record, 'uuid').toLowerCase());
    this.vifOwners.clear();
    for (const [ref, record] of cache.all('VIF')) this.vifOwners.set(ref, text(record, 'VM'));
  }

  /** Decides the guards again and writes what differs; asks XAPI's allowed devices of the VMs `touched` (all: null). */
  async enforce(touched: ReadonlySet<string> | null = null): Promise<void> {
    const { guards, duplicates } = decideGuards(this.records, { hostRef: this.hostRef(), masterRef: this.masterRef() }, this.options.limits());
    this.guards = guards;
    this.duplicates = duplicates;
    for (const guard of guards) {
      try {
        await this.writeBlocked(guard);
        if (touched === null || touched.has(guard.ref) || !this.allowed.has(guard.uuid)) await this.askAllowedDevices(guard);
      } catch (error) {
        this.options.log.error(`XAPI: could not update VM ${JSON.stringify(guard.name)}: ${error instanceof Error ? error.message : String(error)}`, { vmUuid: guard.uuid });
      }
    }
    const known = new Set(guards.map((guard) => guard.uuid));
    for (const uuid of this.allowed.keys()) if (!known.has(uuid)) this.allowed.delete(uuid);
  }

  private async writeBlocked(guard: VmGuard): Promise<void> {
    const current = findVm(this.records, guard.uuid)?.blockedOperations ?? {};
    const writes = blockedWrites(current, guard.reason);
    const client = this.options.client;
    for (const operation of writes.remove) await client.call('VM.remove_from_blocked_operations', guard.ref, operation);
    for (const { operation, reason } of writes.add) {
      try {
        await client.call('VM.add_to_blocked_operations', guard.ref, operation, reason);
      } catch (error) {
        // Someone else set it since the records were read; the next event brings it and it is decided again.
        if (!isXapiError(error, 'MAP_DUPLICATE_KEY')) throw error;
      }
    }
    if (writes.add.length > 0) this.options.log.warn(`XAPI: blocked ${writes.add.map((write) => write.operation).join(', ')} of VM ${JSON.stringify(guard.name)}: ${guard.reason ?? ''}`, { vmUuid: guard.uuid });
    else if (writes.remove.length > 0) this.options.log.info(`XAPI: unblocked ${writes.remove.join(', ')} of VM ${JSON.stringify(guard.name)}`, { vmUuid: guard.uuid });
  }

  private async askAllowedDevices(guard: VmGuard): Promise<void> {
    const devices = await this.options.client.call('VM.get_allowed_VIF_devices', guard.ref);
    if (Array.isArray(devices)) this.allowed.set(guard.uuid, devices.filter((device): device is string => typeof device === 'string'));
  }

  /** The planner's limit text for an XAPI VM: its override, else the XAPI default when it is not the host's. */
  vifLimitOf(uuid: string): string | undefined {
    const vm = findVm(this.records, uuid);
    const override = vm?.otherConfig[VIF_LIMIT_KEY];
    if (override !== undefined) return override;
    const limits = this.options.limits();
    return vm !== null && limits.defaultLimit !== limits.hostDefault ? String(limits.defaultLimit) : undefined;
  }

  list(): Promise<VmSummary[]> {
    const hostRef = this.hostRef();
    return Promise.resolve(guestVms(this.records).flatMap((vm): VmSummary[] => {
      const placement = placementOf(this.records, vm, hostRef);
      return placement.kind === 'busy' ? [] : [{ uuid: vm.uuid, name: vm.name || vm.uuid, active: placement.kind === 'here' }];
    }));
  }

  /**
   * null for a VM XAPI does not know or one that may be arriving (an
   * operation under way; the Xen hook's source answers then); a VM not
   * running here wants nothing.
   */
  get(uuid: string): Promise<VmSnapshot | null> {
    const vm = findVm(this.records, uuid);
    if (vm === null) return Promise.resolve(null);
    const placement = placementOf(this.records, vm, this.hostRef());
    if (placement.kind === 'busy') return Promise.resolve(null);
    const name = vm.name || vm.uuid;
    const limit = this.vifLimitOf(uuid);
    const intent = (): VmIntent => (placement.kind === 'here'
      ? runningIntent(this.records, vm, placement.domid, {
          exists: this.options.exists, fakeBridge: this.options.fakeBridge,
          ...(this.options.allowedBridges === undefined ? {} : { allowedBridges: this.options.allowedBridges }), ...(limit === undefined ? {} : { vifLimit: limit }),
        })
      : { uuid: vm.uuid, name, vifs: [], others: [] });
    return Promise.resolve({
      uuid: vm.uuid, name, active: placement.kind === 'here',
      running: () => Promise.resolve({ intent: intent(), present: new Set<number>() }),
      definition: () => Promise.resolve({ intent: intent() }),
    });
  }

  /** Per VM this host speaks for: VIFs, limit, vifd's block, MACs in use elsewhere, XAPI's allowed devices. */
  vmStatus(): XapiVmStatus[] {
    return this.guards.map((guard) => ({
      uuid: guard.uuid, name: guard.name, vifCount: guard.vifCount, limit: guard.limit, limitProblem: guard.limitProblem,
      duplicateMacs: guard.duplicateMacs, reason: guard.reason, allowedVifDevices: this.allowed.get(guard.uuid) ?? null,
    }));
  }

  duplicateMacs(): readonly DuplicateMac[] {
    return this.duplicates;
  }

  /** XAPI's record of a VM's VIF by device number, for status rows. */
  vifOf(vmUuid: string, device: number): { vm: XapiVm; vif: XapiVif } | null {
    const vm = findVm(this.records, vmUuid);
    const vif = vm === null ? undefined : vifsOf(this.records, vm).find((candidate) => candidate.device === device);
    return vm === null || vif === undefined ? null : { vm, vif };
  }
}
