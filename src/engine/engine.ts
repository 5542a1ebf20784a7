// The only place where sources and effectors meet. Events and hook calls only
// say which domain to look at; the engine computes what that domain wants
// (from its definition) and makes the host match, one domain at a time
// (p-queue per domain), different domains in parallel.
//
// libvirt runs hooks while it holds the domain, so the prepare path never
// calls libvirt: it plans from the XML the hook passed, and reconciles of the
// same domain fetch from libvirt before they queue, never inside the queue.
import { MacInUseError, VifdError } from '../model/errors.js';
import type { DomainDefinition, VifdIntent } from '../model/domain-xml.js';
import { renderIntentMetadata, withoutVif } from '../model/intent.js';
import { assertRenderedAsPlanned, planDomain } from '../model/plan.js';
import type { DomainPlan, PlanSettings } from '../model/plan.js';
import { EXTERNAL_ID } from '../host/ovsdb/ports.js';
import { deviceNamePrefix } from '../model/names.js';
import type { DomainSummary } from './domain-source.js';
import { DomainQueues } from './domain-queues.js';
import { executeSteps } from './executor.js';
import type { ExecutionResult } from './executor.js';
import { PlugError, noMetrics } from './types.js';
import type { EngineLog, EngineMetrics, EngineOptions, PrepareVerdict } from './types.js';
import { runningView } from './running-vm.js';
import { observeVifs, reconcile } from './vif-state.js';
import { parseDomainXmlAsync } from './xml-parse.js';
import type { DesiredVif, ObservedVif, VifReport } from './vif-state.js';

interface DomainWant {
  readonly name: string;
  readonly vifs: readonly DesiredVif[];
}

export class Engine {
  private readonly queues = new DomainQueues();
  private readonly prepared = new Map<string, DomainWant & { readonly until: number }>();
  private readonly wanted = new Map<string, DomainWant>();
  /** Prepares planned but not yet in their VM's queue: their MACs are taken. */
  private readonly reserved = new Map<string, DomainWant>();
  private readonly generations = new Map<string, number>();
  private readonly names = new Map<string, string>();
  /** Per running VM, its vifd interfaces in the live definition at the last look. */
  private readonly rendered = new Map<string, ReadonlySet<string>>();
  /** Per running VM, interfaces it still shows without intent (being detached): left as they are. */
  private readonly held = new Map<string, ReadonlySet<string>>();
  /** Devices being re-plugged: briefly absent from the live definition, and not detached. */
  private readonly replugging = new Set<string>();
  /** Changes made inside a VM's queue; a reconcile that read the VM before one of them is stale. */
  private readonly mutations = new Map<string, number>();
  /** Devices a guest refused to release (device-removal-failed), for status. */
  private readonly removalFailed = new Set<string>();
  private readonly metrics: EngineMetrics;
  private readonly log: EngineLog;

  /** The host's networks and limits; a config reload replaces them (the next reconcile applies them). */
  private settings: PlanSettings;

  constructor(private readonly options: EngineOptions) {
    this.settings = options.settings;
    this.metrics = options.metrics ?? noMetrics;
    this.log = options.log;
  }

  private async hostReady(): Promise<void> {
    await this.options.hostReady?.();
  }

  private serialized<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    return this.queues.run(uuid, work);
  }

  /** What vifd owns on the host; with `vmUuid`, only TAPs named for that VM are read from sysfs. */
  private observe(vmUuid?: string): ObservedVif[] {
    const prefix = vmUuid === undefined ? null : deviceNamePrefix(vmUuid);
    const ports = this.options.host.ownedPorts();
    return observeVifs(prefix === null ? ports : ports.filter((port) => port.name.startsWith(prefix) || port.externalIds[EXTERNAL_ID.vmUuid] === vmUuid),
      this.options.host.taps.list(prefix === null ? undefined : (name) => name.startsWith(prefix)));
  }

  /**
   * Plans a domain. MACs other VMs use on this host (their ports' attached-mac,
   * and what running and starting VMs want) are taken: a derived MAC moves on,
   * an explicit one is refused naming the other VM (invariant 6).
   */
  planFor(domain: DomainDefinition): DomainPlan {
    const users = new Map<string, string>();
    const describe = (uuid: string): string => `VM ${this.nameOf(uuid)} (${uuid})`;
    for (const port of this.options.host.ownedPorts()) {
      const owner = port.externalIds[EXTERNAL_ID.vmUuid];
      const mac = port.externalIds[EXTERNAL_ID.attachedMac];
      if (owner !== undefined && owner !== domain.uuid && mac !== undefined) users.set(mac, describe(owner));
    }
    for (const [uuid, want] of [...this.wanted, ...this.prepared, ...this.reserved]) {
      if (uuid !== domain.uuid) for (const vif of want.vifs) users.set(vif.mac, describe(uuid));
    }
    try {
      return planDomain(domain, this.settings, (mac) => users.get(mac) ?? null);
    } catch (error) {
      if (error instanceof MacInUseError) this.metrics.macCollisions(1);
      throw error;
    }
  }

  private static desired(plan: DomainPlan): DesiredVif[] {
    return plan.vifs.map((vif) => ({ ...vif, vmUuid: plan.vm.uuid, vmName: plan.vm.name }));
  }

  private mutated(uuid: string): void {
    this.mutations.set(uuid, (this.mutations.get(uuid) ?? 0) + 1);
  }

  private async apply(uuid: string, desired: readonly DesiredVif[]): Promise<ExecutionResult> {
    const held = this.held.get(uuid) ?? new Set<string>();
    const { steps } = reconcile(desired, this.observe(uuid), (vif) => vif.vmUuid === uuid && !held.has(vif.device));
    if (steps.length === 0) return { failures: [], createdTaps: [], removedPorts: 0, deletedTaps: 0 };
    const result = await executeSteps(steps, this.options.host);
    for (const failure of result.failures) this.log.error(failure.error.message, { vmUuid: uuid, step: failure.step.kind });
    return result;
  }

  /**
   * libvirt's prepare: the domain's TAPs exist and are on their bridges,
   * applied by ovs-vswitchd, or nothing of it is left and the reason is thrown.
   */
  async prepare(xml: string): Promise<PrepareVerdict> {
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    let domain: DomainDefinition;
    let plan: DomainPlan;
    try {
      domain = await parseDomainXmlAsync(xml);
      await this.hostReady();
      plan = this.planFor(domain);
      assertRenderedAsPlanned(domain, plan);
    } catch (error) {
      this.metrics.plugSeconds(seconds(), 'refused');
      if (error instanceof VifdError) this.log.warn(`refused at prepare: ${error.message}`, { ...error.context });
      throw error;
    }
    const collisions = plan.vifs.reduce((sum, vif) => sum + vif.macCollisions, 0);
    if (collisions > 0) {
      this.metrics.macCollisions(collisions);
      this.log.warn(`MAC collision: derived MACs of VM ${JSON.stringify(domain.name)} moved on ${collisions} time(s)`, { domain: domain.name, vmUuid: domain.uuid });
    }
    const desired = Engine.desired(plan);
    this.names.set(domain.uuid, domain.name);
    // Planned and reserved in one turn: a prepare of another VM planned meanwhile sees these MACs.
    const reservation = { name: domain.name, vifs: desired };
    this.reserved.set(domain.uuid, reservation);
    try {
      await this.serialized(domain.uuid, async () => {
        this.mutated(domain.uuid);
        this.prepared.set(domain.uuid, { name: domain.name, vifs: desired, until: Date.now() + (this.options.preparedTtlMs ?? 120_000) });
        const result = await this.apply(domain.uuid, desired);
        if (result.failures.length === 0) return;
        this.prepared.delete(domain.uuid);
        await this.apply(domain.uuid, []); // never half-plugged: take back what this prepare made
        const first = result.failures[0]?.error;
        throw new PlugError(`could not plug ${result.failures.length} VIF step(s); rolled back: ${first?.message ?? ''}`,
          { domain: domain.name, vmUuid: domain.uuid }, { cause: first });
      });
    } catch (error) {
      this.metrics.plugSeconds(seconds(), 'failed');
      throw error;
    } finally {
      if (this.reserved.get(domain.uuid) === reservation) this.reserved.delete(domain.uuid);
    }
    this.metrics.plugSeconds(seconds(), 'ok');
    this.log.info(`prepared ${desired.length} VIF(s) for VM ${JSON.stringify(domain.name)}`, { domain: domain.name, vmUuid: domain.uuid, vifs: desired.length });
    return {
      domain: domain.name, uuid: domain.uuid, warnings: plan.warnings,
      vifs: desired.map((vif) => ({ index: vif.index, device: vif.device, mac: vif.mac, bridge: vif.bridge })),
    };
  }

  /** libvirt's release: QEMU is gone, so are the domain's VIFs. */
  async release(xml: string): Promise<{ removed: number }> {
    const domain = await parseDomainXmlAsync(xml);
    await this.hostReady();
    return this.serialized(domain.uuid, async () => {
      this.mutated(domain.uuid);
      this.forget(domain.uuid);
      const result = await this.apply(domain.uuid, []);
      if (result.failures.length > 0) this.metrics.reconcileErrors(result.failures.length);
      this.log.info(`released VIFs of VM ${JSON.stringify(domain.name)}`, { domain: domain.name, vmUuid: domain.uuid, removed: result.removedPorts });
      return { removed: result.removedPorts };
    });
  }

  /**
   * Makes one domain's VIFs match its definition and state. Requests that
   * pile up while one runs are coalesced: only the newest does the work.
   */
  async reconcileDomain(uuid: string, reason: string): Promise<void> {
    const generation = (this.generations.get(uuid) ?? 0) + 1;
    this.generations.set(uuid, generation);
    const mutationsBefore = this.mutations.get(uuid) ?? 0;
    let snapshot;
    try {
      snapshot = await this.options.domains.get(uuid);
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
      this.replugStale(uuid, desired, result.createdTaps);
      const removed = Math.max(result.removedPorts, result.deletedTaps);
      if (desired.length === 0 && removed > 0) {
        this.metrics.orphansRemoved(removed);
        this.log.info(`removed ${removed} VIF(s) of VM ${this.nameOf(uuid)} (${reason})`, { vmUuid: uuid });
      } else if (result.createdTaps.length > 0 || result.removedPorts > 0) {
        this.log.warn(`repaired VIFs of VM ${this.nameOf(uuid)} (${reason})`, { vmUuid: uuid, recreated: result.createdTaps });
      }
    });
  }

  /** What a domain wants now; null when it cannot be planned (then nothing is touched). */
  private async desiredNow(uuid: string, snapshot: { name: string; active: boolean; xml: string } | null): Promise<DesiredVif[] | null> {
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
    try {
      const domain = await parseDomainXmlAsync(snapshot.xml);
      const before = [...(this.rendered.get(uuid) ?? [])].filter((device) => !this.replugging.has(device));
      const view = runningView(domain, new Set(before));
      const desired = Engine.desired(this.planFor({ ...domain, intent: view.intent }));
      this.rendered.set(uuid, view.rendered);
      this.held.set(uuid, new Set([...view.rendered].filter((device) => !desired.some((vif) => vif.device === device))));
      this.wanted.set(uuid, { name: snapshot.name, vifs: desired });
      if (view.detachedElsewhere.length > 0) this.dropIntent(uuid, snapshot.name, view.intent, view.detachedElsewhere);
      return desired;
    } catch (error) {
      this.metrics.reconcileErrors(1);
      // Never unplug a running VM because its definition or the host config became unplannable.
      this.log.error(`VM ${JSON.stringify(snapshot.name)} is running but cannot be planned; its VIFs are left as they are: ${(error as Error).message}`, { vmUuid: uuid });
      return null;
    }
  }

  /** TAPs recreated under interfaces QEMU already had open: it holds the deleted devices. */
  private replugStale(uuid: string, desired: readonly DesiredVif[], created: readonly string[]): void {
    const replug = this.options.replug;
    const open = this.rendered.get(uuid) ?? new Set<string>();
    const stale = desired.filter((vif) => created.includes(vif.device) && open.has(vif.device) && !this.replugging.has(vif.device));
    if (replug === undefined || stale.length === 0) return;
    for (const vif of stale) this.replugging.add(vif.device);
    setImmediate(() => {
      void replug(uuid, this.names.get(uuid) ?? uuid, stale).finally(() => {
        for (const vif of stale) this.replugging.delete(vif.device);
        void this.reconcileDomain(uuid, 're-plugged');
      });
    });
  }

  private forget(uuid: string): void {
    for (const state of [this.prepared, this.wanted, this.rendered, this.held]) state.delete(uuid);
  }

  /**
   * Another tool detached vifd interfaces: their entries leave the live intent,
   * or a restarted vifd would plug them again ahead of an attach. Written
   * outside the VM's queue: a libvirt call on a VM that is stopping waits for
   * libvirt's release hook, which waits for that queue.
   */
  private dropIntent(uuid: string, name: string, intent: VifdIntent, indexes: readonly number[]): void {
    this.log.info(`VIF(s) ${indexes.join(', ')} of VM ${JSON.stringify(name)} were detached by another tool; dropping them from its intent`, { vmUuid: uuid });
    const control = this.options.control;
    if (control === undefined) return;
    const remaining = indexes.reduce((current, index) => withoutVif(current, index), intent);
    setImmediate(() => {
      control.setIntent(uuid, renderIntentMetadata(remaining), { live: true }).catch((error: unknown) => {
        this.log.warn(`could not update the intent of VM ${JSON.stringify(name)}: ${(error as Error).message}`, { vmUuid: uuid });
      });
    });
  }

  private nameOf(uuid: string): string {
    const name = this.names.get(uuid);
    return name === undefined ? uuid : JSON.stringify(name);
  }

  /**
   * Definitions made elsewhere (virsh define) are checked when libvirt reports
   * them: what prepare would refuse is a warning now, not a surprise at start.
   */
  async checkDefinition(uuid: string): Promise<string | null> {
    let snapshot;
    try {
      snapshot = await this.options.domains.get(uuid);
    } catch (error) {
      this.log.warn(`cannot check the new definition of VM ${uuid}: ${(error as Error).message}`, { vmUuid: uuid });
      return null;
    }
    if (snapshot === null) return null;
    this.names.set(uuid, snapshot.name);
    try {
      const domain = await parseDomainXmlAsync(snapshot.xml);
      assertRenderedAsPlanned(domain, this.planFor(domain));
      return null;
    } catch (error) {
      if (!(error instanceof VifdError)) throw error;
      const warning = `${error.message} (defined outside vifctl; vifd will refuse to start it as it is)`;
      this.log.warn(warning, { ...error.context, vmUuid: uuid });
      return warning;
    }
  }

  /** Every domain that is running, being prepared, or still owns something on the host. */
  async reconcileAll(reason: string): Promise<{ domains: number }> {
    const domains = await this.options.domains.list();
    for (const domain of domains) this.names.set(domain.uuid, domain.name);
    const uuids = new Set([
      ...domains.filter((domain) => domain.active).map((domain) => domain.uuid),
      ...this.prepared.keys(), ...this.wanted.keys(),
      ...this.observe().flatMap((vif) => (vif.vmUuid === null ? [] : [vif.vmUuid])),
    ]);
    await Promise.all([...uuids].map((uuid) => this.reconcileDomain(uuid, reason)));
    return { domains: uuids.size };
  }

  /**
   * Reconciles the running domains whose VIFs no longer match (a port lost its
   * tag, a TAP vanished). Cheap when nothing drifted: it compares the replica
   * and sysfs with what is already known to be wanted, without asking libvirt.
   */
  async repairDrift(): Promise<number> {
    const desired = [...this.wanted.values()].flatMap((want) => want.vifs);
    const drifted = new Set(reconcile(desired, this.observe(), () => false).reports
      .filter((report) => report.state !== 'ok' && report.vmUuid !== null && !this.queues.busy(report.vmUuid))
      .map((report) => report.vmUuid ?? ''));
    await Promise.all([...drifted].map((uuid) => this.reconcileDomain(uuid, 'drift')));
    return drifted.size;
  }

  /** Orphans: owned VIFs whose domain is gone or not running; removed unless `dryRun`. */
  async gc(options: { dryRun: boolean }): Promise<readonly VifReport[]> {
    const domains: DomainSummary[] = await this.options.domains.list();
    await this.hostReady();
    const live = new Set([...domains.filter((domain) => domain.active).map((domain) => domain.uuid), ...this.prepared.keys()]);
    const orphans = reconcile([], this.observe(), (vif) => vif.vmUuid === null || !live.has(vif.vmUuid)).reports;
    if (!options.dryRun) {
      const owners = new Set(orphans.flatMap((report) => (report.vmUuid === null ? [] : [report.vmUuid])));
      await Promise.all([...owners].map((uuid) => this.reconcileDomain(uuid, 'gc')));
    }
    return orphans;
  }

  /** Every VIF vifd wants or owns, with its state. */
  status(): (VifReport & { domain: string | null })[] {
    const desired = [...this.wanted.values(), ...this.prepared.values()].flatMap((want) => want.vifs);
    const held = new Set([...this.held.values()].flatMap((devices) => [...devices]));
    const observed = this.observe();
    const { reports } = reconcile(desired, observed, (vif) => !held.has(vif.device));
    const detaching = observed.filter((vif) => held.has(vif.device)).map((vif): VifReport => ({
      device: vif.device, vmUuid: vif.vmUuid, index: vif.index, state: 'detaching', desired: null, observed: vif,
      problems: [this.removalFailed.has(vif.device) ? 'detach requested; the guest did not release it (device-removal-failed)' : 'detach requested; waiting for the guest to release it'],
    }));
    for (const device of this.removalFailed) if (!held.has(device)) this.removalFailed.delete(device);
    return [...reports, ...detaching].map((report) => ({ ...report, domain: report.vmUuid === null ? null : this.names.get(report.vmUuid) ?? null }));
  }

  // For hot-plug (src/engine/hotplug.ts), which works inside a domain's queue like prepare does.

  /** Runs `work` in the domain's queue, after and before any other work for that domain. */
  inDomainQueue<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    return this.serialized(uuid, async () => {
      try {
        return await work();
      } finally {
        this.mutated(uuid); // what a reconcile read while this ran is stale
      }
    });
  }

  /** Makes the host match `desired` for one VM (call inside its queue); failures are returned. */
  applyFor(uuid: string, name: string, desired: readonly DesiredVif[]): Promise<ExecutionResult> {
    this.mutated(uuid);
    this.names.set(uuid, name);
    this.wanted.set(uuid, { name, vifs: desired });
    return this.apply(uuid, desired);
  }

  /** What a running VM is known to want, as of its last reconcile. */
  wantedFor(uuid: string): readonly DesiredVif[] {
    return this.wanted.get(uuid)?.vifs ?? [];
  }

  /** Keeps a device plugged while the guest may still use it (a detach in progress). */
  hold(uuid: string, device: string): void {
    this.held.set(uuid, new Set([...(this.held.get(uuid) ?? []), device]));
    const want = this.wanted.get(uuid);
    if (want !== undefined) this.wanted.set(uuid, { ...want, vifs: want.vifs.filter((vif) => vif.device !== device) });
  }

  /** Lets a held device go (the guest released it). */
  unhold(uuid: string, device: string): void {
    this.held.set(uuid, new Set([...(this.held.get(uuid) ?? [])].filter((other) => other !== device)));
  }

  /**
   * The guest did not release a device libvirt asked it to (libvirt names it
   * by its alias): it stays plugged, and status says why.
   */
  async noteRemovalFailed(uuid: string, alias: string): Promise<void> {
    const snapshot = await this.options.domains.get(uuid);
    const device = snapshot === null ? undefined : (await parseDomainXmlAsync(snapshot.xml)).interfaces.find((definition) => definition.alias === alias)?.targetDev;
    if (device === undefined) return;
    this.removalFailed.add(device);
    this.log.warn(`the guest of VM ${this.nameOf(uuid)} did not release ${device} (device-removal-failed); it stays plugged`, { vmUuid: uuid, device });
  }

  /** Takes new networks and limits (a config reload); what is already plugged changes at the next reconcile. */
  useSettings(settings: PlanSettings): void {
    this.settings = settings;
  }

  /** Resolves when no domain has work queued or running. */
  idle(): Promise<void> {
    return this.queues.idle();
  }
}
