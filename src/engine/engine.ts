// The only place where sources and VIF kinds meet. Events and hook calls only
// say which VM to look at; the engine plans what that VM wants (from the
// intent its source gives) and makes the host match through the kinds, one VM
// at a time (p-queue per VM), different VMs in parallel.
//
// libvirt runs hooks while it holds the domain, so the prepare path never
// asks a source anything: it plans from the intent the hook passed, and
// reconciles of the same VM read their source before they queue, never inside.
import type { IntentRead, RunningRead, VifControl, VmSnapshot, VmSummary } from '../model/contracts.js';
import { MacInUseError, VifdError } from '../model/errors.js';
import { VIF_PLANNERS, desiredVifs, planVm } from '../model/plan.js';
import type { DesiredVif, PlanSettings, VifPlanner, VmPlan } from '../model/plan.js';
import type { VmIdentity, VmIntent } from '../model/vm-intent.js';
import { executorsOn, kindsOn } from '../kinds/registry.js';
import type { ExecutorTable, KindHosts, KindTable, ObservedVif } from '../kinds/registry.js';
import { DomainQueues } from './domain-queues.js';
import { NOTHING_DONE, executeSteps } from './executor.js';
import type { ExecutionResult } from './executor.js';
import { describeSeen, observeAll, reconcile } from './reconcile.js';
import type { VifReport } from './reconcile.js';
import { PlugError, noMetrics } from './types.js';
import type { EngineLog, EngineMetrics, EngineOptions, PrepareVerdict } from './types.js';

interface VmWant {
  readonly name: string;
  readonly vifs: readonly DesiredVif[];
}

/** A prepare as a source hands it over: the intent is read (parsed) by the engine, so refusals are counted alike. */
export interface PrepareRequest {
  read(): Promise<IntentRead>;
}

export class Engine implements VifControl {
  private readonly queues = new DomainQueues();
  private readonly kinds: KindTable;
  private readonly executors: ExecutorTable;
  private readonly planners: Readonly<Record<string, VifPlanner>>;
  private readonly prepared = new Map<string, VmWant & { readonly until: number }>();
  private readonly wanted = new Map<string, VmWant>();
  /** Prepares planned but not yet in their VM's queue: their MACs are taken. */
  private readonly reserved = new Map<string, VmWant>();
  private readonly generations = new Map<string, number>();
  private readonly names = new Map<string, string>();
  /** Per running VM, VIF indexes it still shows without intent (being detached): left as they are. */
  private readonly held = new Map<string, ReadonlySet<number>>();
  /** Changes made inside a VM's queue; a reconcile that read the VM before one of them is stale. */
  private readonly mutations = new Map<string, number>();
  /** VIFs (uuid/index) a guest refused to release (device-removal-failed), for status. */
  private readonly removalFailed = new Set<string>();
  private readonly metrics: EngineMetrics;
  private readonly log: EngineLog;

  /** The host's networks and limits; a config reload replaces them (the next reconcile applies them). */
  private settings: PlanSettings;

  constructor(private readonly options: EngineOptions) {
    this.settings = options.settings;
    this.metrics = options.metrics ?? noMetrics;
    this.log = options.log;
    const host = options.host;
    if (options.kinds === undefined && host === undefined) throw new Error('the engine needs the host effectors or kinds of its own');
    this.kinds = options.kinds?.kinds ?? kindsOn(host as KindHosts);
    this.executors = options.kinds?.executors ?? executorsOn(host as KindHosts);
    this.planners = options.kinds?.planners ?? VIF_PLANNERS;
  }

  private async hostReady(): Promise<void> {
    await this.options.hostReady?.();
  }

  private serialized<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    return this.queues.run(uuid, work);
  }

  private heldOf(uuid: string): ReadonlySet<number> {
    return this.held.get(uuid) ?? new Set<number>();
  }

  private isHeld(vif: { readonly vmUuid: string | null; readonly index: number | null }): boolean {
    return vif.vmUuid !== null && vif.index !== null && this.heldOf(vif.vmUuid).has(vif.index);
  }

  /** Who uses a MAC, other than `self`: VIFs on the host, and what running, starting and prepared VMs want. */
  private macUser(self: string): (mac: string) => string | null {
    const describe = (uuid: string): string => `VM ${this.nameOf(uuid)} (${uuid})`;
    return (mac) => {
      for (const kind of Object.values(this.kinds)) {
        const owner = kind.macUsers(mac).find((uuid) => uuid !== self);
        if (owner !== undefined) return describe(owner);
      }
      for (const wants of [this.wanted, this.prepared, this.reserved]) {
        for (const [uuid, want] of wants) if (uuid !== self && want.vifs.some((vif) => vif.mac === mac)) return describe(uuid);
      }
      return null;
    };
  }

  /**
   * Plans a VM. MACs other VMs use on this host are taken: a derived MAC
   * moves on, an explicit one is refused naming the other VM (invariant 6).
   */
  plan(intent: VmIntent): VmPlan {
    try {
      return planVm(intent, this.settings, this.macUser(intent.uuid), this.planners);
    } catch (error) {
      if (error instanceof MacInUseError) this.metrics.macCollisions(1);
      throw error;
    }
  }

  private mutated(uuid: string): void {
    this.mutations.set(uuid, (this.mutations.get(uuid) ?? 0) + 1);
  }

  private async apply(uuid: string, desired: readonly DesiredVif[]): Promise<ExecutionResult> {
    const inScope = (vif: ObservedVif): boolean => vif.vmUuid === uuid && !this.isHeld(vif);
    const { steps } = reconcile(this.kinds, desired, observeAll(this.kinds, uuid), inScope);
    if (steps.length === 0) return NOTHING_DONE;
    const result = await executeSteps(steps, this.executors);
    for (const failure of result.failures) this.log.error(failure.error.message, { vmUuid: uuid, step: failure.step.kind });
    return result;
  }

  /**
   * A start's prepare: the VM's VIFs exist and are plugged, applied by the
   * switch, or nothing of it is left and the reason is thrown.
   */
  async prepare(request: PrepareRequest): Promise<PrepareVerdict> {
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    let plan: VmPlan;
    try {
      const read = await request.read();
      await this.hostReady();
      plan = this.plan(read.intent);
      read.accept?.(plan);
    } catch (error) {
      this.metrics.plugSeconds(seconds(), 'refused');
      if (error instanceof VifdError) this.log.warn(`refused at prepare: ${error.message}`, { ...error.context });
      throw error;
    }
    const vm = plan.vm;
    const collisions = plan.vifs.reduce((sum, vif) => sum + vif.macCollisions, 0);
    if (collisions > 0) {
      this.metrics.macCollisions(collisions);
      this.log.warn(`MAC collision: derived MACs of VM ${JSON.stringify(vm.name)} moved on ${collisions} time(s)`, { domain: vm.name, vmUuid: vm.uuid });
    }
    const desired = desiredVifs(plan);
    this.names.set(vm.uuid, vm.name);
    // Planned and reserved in one turn: a prepare of another VM planned meanwhile sees these MACs.
    const reservation = { name: vm.name, vifs: desired };
    this.reserved.set(vm.uuid, reservation);
    try {
      await this.serialized(vm.uuid, () => this.plugPrepared(vm, desired));
    } catch (error) {
      this.metrics.plugSeconds(seconds(), 'failed');
      throw error;
    } finally {
      if (this.reserved.get(vm.uuid) === reservation) this.reserved.delete(vm.uuid);
    }
    this.metrics.plugSeconds(seconds(), 'ok');
    this.log.info(`prepared ${desired.length} VIF(s) for VM ${JSON.stringify(vm.name)}`, { domain: vm.name, vmUuid: vm.uuid, vifs: desired.length });
    return {
      domain: vm.name, uuid: vm.uuid, warnings: plan.warnings,
      vifs: desired.map((vif) => ({ index: vif.index, device: vif.device, mac: vif.mac, bridge: vif.bridge })),
    };
  }

  /** In the VM's queue: plugs, or takes back what this prepare made and throws (never half-plugged). */
  private async plugPrepared(vm: VmIdentity, desired: readonly DesiredVif[]): Promise<void> {
    this.mutated(vm.uuid);
    this.prepared.set(vm.uuid, { name: vm.name, vifs: desired, until: Date.now() + (this.options.preparedTtlMs ?? 120_000) });
    const result = await this.apply(vm.uuid, desired);
    if (result.failures.length === 0) return;
    this.prepared.delete(vm.uuid);
    await this.apply(vm.uuid, []);
    const first = result.failures[0]?.error;
    throw new PlugError(`could not plug ${result.failures.length} VIF step(s); rolled back: ${first?.message ?? ''}`,
      { domain: vm.name, vmUuid: vm.uuid }, { cause: first });
  }

  /** A stop's release: the VM is gone, so are its VIFs. */
  async release(read: () => Promise<VmIdentity>): Promise<{ removed: number }> {
    const vm = await read();
    await this.hostReady();
    return this.serialized(vm.uuid, async () => {
      this.mutated(vm.uuid);
      this.forget(vm.uuid);
      const result = await this.apply(vm.uuid, []);
      if (result.failures.length > 0) this.metrics.reconcileErrors(result.failures.length);
      this.log.info(`released VIFs of VM ${JSON.stringify(vm.name)}`, { domain: vm.name, vmUuid: vm.uuid, removed: result.detached });
      return { removed: result.detached };
    });
  }

  /**
   * Makes one VM's VIFs match its intent and state. Requests that pile up
   * while one runs are coalesced: only the newest does the work.
   */
  async reconcileDomain(uuid: string, reason: string): Promise<void> {
    const generation = (this.generations.get(uuid) ?? 0) + 1;
    this.generations.set(uuid, generation);
    const mutationsBefore = this.mutations.get(uuid) ?? 0;
    let snapshot: VmSnapshot | null;
    try {
      snapshot = await this.options.source.get(uuid);
    } catch (error) {
      this.metrics.reconcileErrors(1);
      this.log.error(`reconcile (${reason}): cannot read VM ${uuid}: ${(error as Error).message}`, { vmUuid: uuid });
      return;
    }
    await this.serialized(uuid, async () => {
      if (this.generations.get(uuid) !== generation) return; // a newer request will look afresh
      this.generations.delete(uuid);
      // What was read predates a prepare, release or hot-plug that ran meanwhile: the
      // event that change causes brings a fresh look; this one would undo it.
      if ((this.mutations.get(uuid) ?? 0) !== mutationsBefore) return;
      const desired = await this.desiredNow(uuid, snapshot);
      if (desired === null) return;
      const result = await this.apply(uuid, desired);
      if (result.failures.length > 0) this.metrics.reconcileErrors(result.failures.length);
      this.afterRecreate(uuid, desired, result.created);
      this.logRepair(uuid, reason, desired.length === 0, result);
    });
  }

  private logRepair(uuid: string, reason: string, unwanted: boolean, result: ExecutionResult): void {
    const removed = Math.max(result.detached, result.destroyed);
    if (unwanted && removed > 0) {
      this.metrics.orphansRemoved(removed);
      this.log.info(`removed ${removed} VIF(s) of VM ${this.nameOf(uuid)} (${reason})`, { vmUuid: uuid });
    } else if (result.created.length > 0 || result.detached > 0) {
      this.log.warn(`repaired VIFs of VM ${this.nameOf(uuid)} (${reason})`, { vmUuid: uuid, recreated: result.created });
    }
  }

  /** What a VM wants now; null when it cannot be planned (then nothing is touched). */
  private async desiredNow(uuid: string, snapshot: VmSnapshot | null): Promise<DesiredVif[] | null> {
    const prepared = this.prepared.get(uuid);
    if (snapshot?.active !== true) {
      const keep = prepared !== undefined && prepared.until > Date.now();
      this.forget(uuid);
      if (keep) {
        this.prepared.set(uuid, prepared);
        return [...prepared.vifs];
      }
      return [];
    }
    this.prepared.delete(uuid);
    this.names.set(uuid, snapshot.name);
    let read: RunningRead;
    let desired: DesiredVif[];
    try {
      read = await snapshot.running();
      desired = desiredVifs(this.plan(read.intent));
    } catch (error) {
      this.metrics.reconcileErrors(1);
      // Never unplug a running VM because its definition or the host config became unplannable.
      this.log.error(`VM ${JSON.stringify(snapshot.name)} is running but cannot be planned; its VIFs are left as they are: ${(error as Error).message}`, { vmUuid: uuid });
      return null;
    }
    const wantedIndexes = new Set(desired.map((vif) => vif.index));
    this.held.set(uuid, new Set([...read.present].filter((index) => !wantedIndexes.has(index))));
    this.wanted.set(uuid, { name: snapshot.name, vifs: desired });
    return desired;
  }

  /** Devices recreated under a running VM: its source makes the VM use them (QEMU holds the deleted ones). */
  private afterRecreate(uuid: string, desired: readonly DesiredVif[], created: readonly string[]): void {
    const recreated = this.options.source.recreated?.bind(this.options.source);
    const vifs = desired.filter((vif) => created.includes(vif.device));
    if (recreated === undefined || vifs.length === 0) return;
    const vm = { uuid, name: this.names.get(uuid) ?? uuid };
    recreated(vm, vifs).then((acted) => (acted ? this.reconcileDomain(uuid, 're-plugged') : undefined)).catch((error: unknown) => {
      this.log.error(`making VM ${this.nameOf(uuid)} use its recreated VIFs failed: ${(error as Error).message}`, { vmUuid: uuid });
    });
  }

  private forget(uuid: string): void {
    for (const state of [this.prepared, this.wanted, this.held]) state.delete(uuid);
  }

  private nameOf(uuid: string): string {
    const name = this.names.get(uuid);
    return name === undefined ? uuid : JSON.stringify(name);
  }

  /**
   * Definitions made elsewhere (virsh define) are checked when their source
   * reports them: what a start would refuse is a warning now, not a surprise.
   */
  async checkDefinition(uuid: string): Promise<string | null> {
    let snapshot: VmSnapshot | null;
    try {
      snapshot = await this.options.source.get(uuid);
    } catch (error) {
      this.log.warn(`cannot check the new definition of VM ${uuid}: ${(error as Error).message}`, { vmUuid: uuid });
      return null;
    }
    if (snapshot === null) return null;
    this.names.set(uuid, snapshot.name);
    try {
      const read = await snapshot.definition();
      // A dry run for VFs: a definition is checked, not started, so no VF is claimed for it.
      const dryRun: PlanSettings = { macPrefix: this.settings.macPrefix, vifLimit: this.settings.vifLimit, networks: this.settings.networks };
      read.accept?.(planVm(read.intent, dryRun, this.macUser(read.intent.uuid), this.planners));
      return null;
    } catch (error) {
      if (!(error instanceof VifdError)) throw error;
      const warning = `${error.message} (defined outside vifctl; vifd will refuse to start it as it is)`;
      this.log.warn(warning, { ...error.context, vmUuid: uuid });
      return warning;
    }
  }

  /** Every VM that is running, being prepared, or still owns something on the host. */
  async reconcileAll(reason: string): Promise<{ domains: number }> {
    const vms = await this.options.source.list();
    for (const vm of vms) this.names.set(vm.uuid, vm.name);
    const uuids = new Set([
      ...vms.filter((vm) => vm.active).map((vm) => vm.uuid),
      ...this.prepared.keys(), ...this.wanted.keys(),
      ...observeAll(this.kinds).flatMap((vif) => (vif.vmUuid === null ? [] : [vif.vmUuid])),
    ]);
    await Promise.all([...uuids].map((uuid) => this.reconcileDomain(uuid, reason)));
    return { domains: uuids.size };
  }

  /**
   * Reconciles the running VMs whose VIFs no longer match (a port lost its
   * tag, a TAP vanished). Cheap when nothing drifted: it compares what the
   * kinds see with what is already known to be wanted, without asking a source.
   */
  async repairDrift(): Promise<number> {
    const desired = [...this.wanted.values()].flatMap((want) => want.vifs);
    const drifted = new Set(reconcile(this.kinds, desired, observeAll(this.kinds), () => false).reports
      .filter((report) => report.state !== 'ok' && report.vmUuid !== null && !this.queues.busy(report.vmUuid))
      .map((report) => report.vmUuid ?? ''));
    await Promise.all([...drifted].map((uuid) => this.reconcileDomain(uuid, 'drift')));
    return drifted.size;
  }

  /** Orphans: owned VIFs whose VM is gone or not running; removed unless `dryRun`. */
  async gc(options: { dryRun: boolean }): Promise<readonly VifReport[]> {
    const vms: VmSummary[] = await this.options.source.list();
    await this.hostReady();
    const live = new Set([...vms.filter((vm) => vm.active).map((vm) => vm.uuid), ...this.prepared.keys()]);
    const orphans = reconcile(this.kinds, [], observeAll(this.kinds), (vif) => vif.vmUuid === null || !live.has(vif.vmUuid)).reports;
    if (!options.dryRun) {
      const owners = new Set(orphans.flatMap((report) => (report.vmUuid === null ? [] : [report.vmUuid])));
      await Promise.all([...owners].map((uuid) => this.reconcileDomain(uuid, 'gc')));
    }
    return orphans;
  }

  /** Every VIF vifd wants or owns, with its state. */
  status(): (VifReport & { domain: string | null })[] {
    const desired = [...this.wanted.values(), ...this.prepared.values()].flatMap((want) => want.vifs);
    const observed = observeAll(this.kinds);
    const { reports } = reconcile(this.kinds, desired, observed, (vif) => !this.isHeld(vif));
    const detaching = observed.filter((vif) => this.isHeld(vif)).map((vif): VifReport => ({
      device: vif.device, vmUuid: vif.vmUuid, index: vif.index, state: 'detaching', drift: [], desired: null, observed: vif, seen: describeSeen(this.kinds, vif),
      problems: [this.removalFailed.has(`${vif.vmUuid ?? ''}/${String(vif.index)}`)
        ? 'detach requested; the guest did not release it (device-removal-failed)' : 'detach requested; waiting for the guest to release it'],
    }));
    for (const key of this.removalFailed) {
      const [uuid = '', index = ''] = key.split('/');
      if (!this.heldOf(uuid).has(Number(index))) this.removalFailed.delete(key);
    }
    return [...reports, ...detaching].map((report) => ({ ...report, domain: report.vmUuid === null ? null : this.names.get(report.vmUuid) ?? null }));
  }

  // For a source's VIF actions (hot-plug), which work inside a VM's queue like prepare does.

  /** Runs `work` in the VM's queue, after and before any other work for that VM. */
  inVmQueue<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    return this.serialized(uuid, async () => {
      try {
        return await work();
      } finally {
        this.mutated(uuid); // what a reconcile read while this ran is stale
      }
    });
  }

  applyFor(vm: VmIdentity, desired: readonly DesiredVif[]): Promise<ExecutionResult> {
    this.mutated(vm.uuid);
    this.names.set(vm.uuid, vm.name);
    this.wanted.set(vm.uuid, { name: vm.name, vifs: desired });
    return this.apply(vm.uuid, desired);
  }

  wantedFor(uuid: string): readonly DesiredVif[] {
    return this.wanted.get(uuid)?.vifs ?? [];
  }

  hold(uuid: string, index: number): void {
    this.held.set(uuid, new Set([...this.heldOf(uuid), index]));
    const want = this.wanted.get(uuid);
    if (want !== undefined) this.wanted.set(uuid, { ...want, vifs: want.vifs.filter((vif) => vif.index !== index) });
  }

  unhold(uuid: string, index: number): void {
    this.held.set(uuid, new Set([...this.heldOf(uuid)].filter((other) => other !== index)));
  }

  /** The guest did not release a VIF its source asked it to: it stays plugged, and status says why. */
  noteRemovalFailed(uuid: string, index: number): void {
    this.removalFailed.add(`${uuid}/${index}`);
    this.log.warn(`the guest of VM ${this.nameOf(uuid)} did not release VIF ${index} (device-removal-failed); it stays plugged`, { vmUuid: uuid, vif: index });
  }

  /** Takes new networks and limits (a config reload); what is already plugged changes at the next reconcile. */
  useSettings(settings: PlanSettings): void {
    this.settings = settings;
  }

  /** Resolves when no VM has work queued or running. */
  idle(): Promise<void> {
    return this.queues.idle();
  }
}
