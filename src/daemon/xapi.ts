// The XAPI source as the daemon wires it (hosts with an `xapi:` block): the
// host's uuid and the client are made when the services are reached (the
// inventory and the credentials file are read then), so until then this
// stands in for the source and knows no VM. It also gives the Xen hook's
// path the XAPI VM's own limit, and adds XAPI's view to status.
import { attachParams, detachParams } from '../api/protocol.js';
import type { AttachResult, DetachResult, StatusResult, VifStatusRow, XapiStatus } from '../api/protocol.js';
import type { MetricsRegistry } from '../api/metrics.js';
import type { MacPrefix } from '../model/mac.js';
import { XapiHotPlug } from '../sources/xapi/attach.js';
import type { VifControl, VmSnapshot, VmSource, VmSummary } from '../model/contracts.js';
import type { VmIntent } from '../model/vm-intent.js';
import { XapiSource } from '../sources/xapi/source.js';
import type { XapiChange, XapiLimitSettings } from '../sources/xapi/source.js';
import type { FakeBridgeLookup } from '../sources/xen-hotplug/daemon-side.js';
import type { XapiLog } from '../xapi/client.js';
import { resolveHostUuid } from '../xapi/config.js';
import type { XapiConfig } from '../xapi/config.js';
import { createXapiClient } from '../xapi/connect.js';
import { VifdError } from '../model/errors.js';

/**
 * XAPI's records were not loaded yet: until then vifd cannot tell which XAPI
 * VMs live, and a reconcile or GC that went on would remove their ports.
 */
export class XapiNotLoadedError extends VifdError {
  readonly code = 'xapi-not-loaded';
}

export interface XapiWiringInputs {
  readonly limits: () => XapiLimitSettings;
  readonly exists: (device: string) => boolean;
  readonly fakeBridge: FakeBridgeLookup;
  readonly allowedBridges?: readonly string[];
  readonly onChange: (change: XapiChange) => void;
  readonly log: XapiLog;
  /** vifd's MAC prefix, for the VIFs `vifctl attach` makes. */
  readonly macPrefix: MacPrefix;
  /** Tests: a short event.from timeout. */
  readonly pollTimeoutS?: number;
}

export class XapiWiring implements VmSource {
  private source: XapiSource | null = null;
  private hotPlug: XapiHotPlug | null = null;
  private hostUuid = '';
  private loaded = false;

  constructor(private readonly config: XapiConfig, private readonly inputs: XapiWiringInputs) {}

  /** Reads the host uuid and credentials (a failure is a config error: fatal) and starts following XAPI. */
  async start(): Promise<void> {
    this.hostUuid = await resolveHostUuid(this.config);
    const client = await createXapiClient(this.config, this.inputs.log);
    // A change is only reported once records are in the cache: from then on vifd knows XAPI's VMs.
    const onChange = (change: XapiChange): void => { this.loaded = true; this.inputs.onChange(change); };
    const source = new XapiSource({ client, hostUuid: this.hostUuid, ...this.inputs, onChange });
    this.source = source;
    this.hotPlug = new XapiHotPlug({
      client, records: () => source.records, hostRef: () => source.hostRef(), limits: this.inputs.limits, prefix: this.inputs.macPrefix,
      fakeBridge: this.inputs.fakeBridge, log: this.inputs.log,
      ...(this.inputs.allowedBridges === undefined ? {} : { allowedBridges: this.inputs.allowedBridges }),
    });
    source.start();
    void source.synced().then(() => { this.loaded = true; }, () => undefined);
    this.inputs.log.info('following XAPI', { hostUuid: this.hostUuid });
  }

  async stop(): Promise<void> {
    await this.source?.stop();
  }

  /** Resolves once XAPI's records were loaded the first time (never before start). */
  async synced(): Promise<void> {
    await this.source?.synced();
  }

  list(): Promise<VmSummary[]> {
    if (this.source === null || !this.loaded) return Promise.reject(this.notLoaded());
    return this.source.list();
  }

  get(uuid: string): Promise<VmSnapshot | null> {
    if (this.source === null || !this.loaded) return Promise.reject(this.notLoaded());
    return this.source.get(uuid);
  }

  private notLoaded(): XapiNotLoadedError {
    return new XapiNotLoadedError(`vifd has not loaded XAPI's records from ${this.config.transport.kind === 'unix' ? this.config.transport.socketPath : this.config.transport.url.href} yet; try again shortly`);
  }

  /** Gauges at each scrape: MACs the pool uses more than once, and VMs vifd blocks. */
  registerMetrics(registry: MetricsRegistry): void {
    const duplicates = registry.gauge('vifd_xapi_duplicate_macs', 'MACs more than one VIF of the XAPI pool uses', []);
    const blocked = registry.gauge('vifd_xapi_blocked_vms', 'XAPI VMs this host speaks for whose start vifd blocks (VIF limit or MAC)', []);
    registry.onCollect(() => {
      duplicates.set({}, this.source?.duplicateMacs().length ?? 0);
      blocked.set({}, this.source?.vmStatus().filter((vm) => vm.reason !== null).length ?? 0);
      return Promise.resolve();
    });
  }

  /** The limits changed (a config reload): the guards are decided again. */
  async recheck(): Promise<void> {
    await this.source?.enforce();
  }

  /** The engine as the Xen hook's path uses it, planning an XAPI VM with its own limit (VM.other_config). */
  control(engine: VifControl): VifControl {
    const withLimit = (intent: VmIntent): VmIntent => {
      const limit = intent.vifLimit ?? this.source?.vifLimitOf(intent.uuid);
      return limit === undefined ? intent : { ...intent, vifLimit: limit };
    };
    return {
      inVmQueue: (uuid, work) => engine.inVmQueue(uuid, work),
      plan: (intent) => engine.plan(withLimit(intent)),
      applyFor: (vm, desired) => engine.applyFor(vm, desired),
      wantedFor: (uuid) => engine.wantedFor(uuid),
      hold: (uuid, index) => { engine.hold(uuid, index); },
      unhold: (uuid, index) => { engine.unhold(uuid, index); },
    };
  }

  private row(row: VifStatusRow): VifStatusRow {
    const source = this.source;
    if (source === null || row.uuid === null || row.index === null || row.kind !== 'netback') return row;
    const found = source.vifOf(row.uuid, row.index);
    if (found === null) return row;
    const { vif } = found;
    return { ...row, source: 'xapi', xapi: { vifUuid: vif.uuid, network: vif.networkName, networkUuid: vif.networkUuid, currentlyAttached: vif.currentlyAttached } };
  }

  private view(source: XapiSource): XapiStatus {
    return {
      state: source.state, hostUuid: this.hostUuid, duplicateMacs: source.duplicateMacs(),
      vms: source.vmStatus().map((vm) => ({
        uuid: vm.uuid, name: vm.name, vifCount: vm.vifCount, limit: vm.limit?.limit ?? null, limitSource: vm.limit?.source ?? null,
        limitProblem: vm.limitProblem, duplicateMacs: vm.duplicateMacs, blocked: vm.reason, allowedVifDevices: vm.allowedVifDevices,
      })),
    };
  }

  /**
   * The control methods XAPI changes: status gains XAPI's view; attach and
   * detach on an XAPI VM go through XAPI, on any other VM as before.
   */
  wrapHandlers(base: {
    status: (params: unknown) => Promise<StatusResult>;
    attach: (params: unknown) => Promise<AttachResult>;
    detach: (params: unknown) => Promise<DetachResult>;
  }): typeof base {
    return {
      status: async (params) => this.decorate(await base.status(params)),
      attach: async (params) => {
        const { domain, request } = attachParams(params);
        const vm = this.hotPlug?.vm(domain) ?? null;
        return vm === null || this.hotPlug === null ? base.attach(params) : this.hotPlug.attach(vm, request);
      },
      detach: async (params) => {
        const { domain, which } = detachParams(params);
        const vm = this.hotPlug?.vm(domain) ?? null;
        return vm === null || this.hotPlug === null ? base.detach(params) : this.hotPlug.detach(vm, which);
      },
    };
  }

  /** Status with XAPI's record beside each XAPI VIF, and the XAPI VMs' limits and blocks. */
  decorate(result: StatusResult): StatusResult {
    const source = this.source;
    if (source === null) return result;
    return { ...result, vifs: result.vifs.map((row) => this.row(row)), xapi: this.view(source) };
  }
}
