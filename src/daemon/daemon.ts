// The daemon's wiring. The control socket opens first, before ovsdb-server or
// libvirtd is reached: at boot libvirtd runs autostart guests' prepare hooks
// during its own initialisation, before it accepts clients, and those hooks
// wait on this socket. prepare and release need only what the hook passes and
// the switch, so they are served as soon as the OVSDB replica is loaded;
// libvirtd is reached in the background, and only then do events, the full
// reconcile and GC start (GC must never run without knowing which VMs live).
// Every reconnect to either service triggers another full reconcile, and a
// slow periodic one catches whatever an event could not tell.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ControlServer } from '../api/control-server.js';
import { HOOK_OPS, HookSocketServer, hookSocketPath } from '../api/hook-socket.js';
import { MetricsRegistry, startMetricsServer } from '../api/metrics.js';
import type { MetricsServer } from '../api/metrics.js';
import { usesLibvirt } from '../config/schema.js';
import type { HostConfig } from '../config/schema.js';
import { Engine } from '../engine/engine.js';
import type { EngineLog } from '../engine/types.js';
import { HotPlug } from '../sources/libvirt/hotplug.js';
import { replugThroughLibvirt } from '../sources/libvirt/replug.js';
import { HOSTDEV_TEMPLATE, TAP_TEMPLATE } from '../sources/libvirt/render.js';
import { LibvirtDomainSource } from '../sources/libvirt/source.js';
import { CompositeSource } from '../sources/composite.js';
import { XenHotplug } from '../sources/xen-hotplug/daemon-side.js';
import { XenVms } from '../sources/xen-hotplug/vms.js';
import { recoverNetbackVifs } from '../kinds/netback/recover.js';
import { NetDevices } from '../host/net-devices.js';
import { resolveFakeBridge } from '../host/ovsdb/fake-bridges.js';
import { OvsdbClient } from '../host/ovsdb/client.js';
import { PORT_MONITOR } from '../host/ovsdb/ports.js';
import { PortWriter } from '../host/ovsdb/port-writer.js';
import { TapDevices } from '../host/tap.js';
import { LibvirtConnection } from '../libvirt/connection.js';
import type { DomainEvent } from '../libvirt/events.js';
import { Backoff } from '../model/backoff.js';
import { MAX_DOMAIN_XML_BYTES } from '../model/limits.js';
import type { ConfigDiff } from '../config/diff.js';
import type { PlanSettings } from '../model/plan.js';
import { controlHandlers, hookHandler } from './handlers.js';
import { hostEffectors } from './host-effectors.js';
import { infoHandler } from './info.js';
import type { ConnectionState, InfoInputs, LibvirtState } from './info.js';
import type { DaemonLog } from './log.js';
import { engineMetrics, registerProcessMetrics, registerScrapeMetrics } from './metrics.js';
import { Readiness } from './readiness.js';
import { SriovWiring } from './sriov.js';
import type { SriovHostOptions } from './sriov.js';
import { packageVersion } from './version.js';
import { XapiNotLoadedError, XapiWiring } from './xapi.js';
import type { XapiChange } from '../sources/xapi/source.js';

const PERIODIC_RECONCILE_MS = 5 * 60_000;
/** Switch changes come in bursts (vifd's own writes among them): look for drift once they settle. */
const DRIFT_CHECK_DELAY_MS = 500;

/**
 * The largest request line read from the control socket: a domain definition
 * at its bound (MAX_DOMAIN_XML_BYTES) with JSON's escaping (a quote becomes two
 * bytes) fits; anything longer is cut off before it is buffered.
 */
const MAX_REQUEST_BYTES = 4 * MAX_DOMAIN_XML_BYTES;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Retries `attempt` with backoff until it succeeds or `stopped()` says to give up. */
async function withRetry<T>(what: string, log: EngineLog, stopped: () => boolean, attempt: () => Promise<T>): Promise<T> {
  const backoff = new Backoff(250, 5000);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (stopped()) throw error;
      const delay = backoff.next();
      log.warn(`waiting for ${what}: ${messageOf(error)}; retrying in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export class Daemon {
  private periodic: NodeJS.Timeout | null = null;
  private driftCheck: NodeJS.Timeout | null = null;
  private stopping = false;
  private libvirt: LibvirtConnection | null = null;
  private connecting: Promise<void> = Promise.resolve();
  private control: ControlServer | null = null;
  private hooks: HookSocketServer[] = [];
  private metrics: MetricsServer | null = null;
  readonly engine: Engine;
  readonly readiness = new Readiness();
  private readonly ovsdb: OvsdbClient;
  private readonly taps = new TapDevices();
  private readonly registry: MetricsRegistry;
  private readonly hotPlug: HotPlug;
  private readonly libvirtSource: LibvirtDomainSource;
  private readonly xenHotplug: XenHotplug;
  private readonly startedAtMs = Date.now();
  private libvirtLost = false;
  /** XAPI hosts (config `xapi:`): the XAPI source, asked first. */
  private readonly xapi: XapiWiring | null;
  /** The first full reconcile ran: XAPI's events may reconcile VMs from now on. */
  private reconciledOnce = false;
  /** The VF pools of the config's SR-IOV networks (a reload rebuilds them; the first one on a daemon started without needs a restart). */
  readonly sriov: SriovWiring | null;
  private readonly sriovScanned: Promise<void>;
  /** false on Xen hosts without libvirtd (libvirt.enabled: false): XAPI and the hook's source speak alone. */
  private readonly withLibvirt: boolean;

  private constructor(private config: HostConfig, private readonly log: EngineLog & Partial<Pick<DaemonLog, 'setLevel'>>, sriovHost: SriovHostOptions = {}) {
    this.withLibvirt = usesLibvirt(config);
    this.ovsdb = new OvsdbClient({ socketPath: config.ovsdb.socket, monitor: PORT_MONITOR });
    const writer = new PortWriter(this.ovsdb);
    const devices = new NetDevices();
    this.sriov = SriovWiring.fromConfig(config, log, { ...sriovHost, vmName: (uuid) => this.engine.status().find((report) => report.vmUuid === uuid)?.domain ?? undefined });
    // Prepare hooks may come before libvirtd answers (autostart at boot): they wait for this first scan;
    // VFs recovered from snapshots stay unrestored until libvirt's running guests are known.
    this.sriovScanned = this.sriov?.refresh(null) ?? Promise.resolve();
    const host = { ...hostEffectors(this.taps, writer, this.ovsdb, devices), ...(this.sriov === null ? {} : { sriov: this.sriov.vfs }) };
    this.registry = new MetricsRegistry({ onCollectError: (error) => { log.warn(`metrics: ${messageOf(error)}`); } });
    const template = readFileSync(TAP_TEMPLATE, 'utf8');
    this.libvirtSource = new LibvirtDomainSource({ connection: () => this.libvirt, uri: config.libvirt.uri, log });
    this.libvirtSource.useReplug(replugThroughLibvirt(this.libvirtSource, template, log));
    // Xen domains known from hotplug calls, rebuilt from their ports once the replica is loaded.
    const xenVms = new XenVms({
      exists: (name) => devices.exists(name),
      recover: () => (this.readiness.switchIsReady ? recoverNetbackVifs(this.ovsdb.ownedPorts.all()) : null),
    });
    const fakeBridge = (name: string): ReturnType<typeof resolveFakeBridge> => resolveFakeBridge(this.ovsdb.replica, name);
    // A change of xen.allowed_bridges needs a restart (config/diff.ts), so the list is read once.
    const allowedBridges = config.xen?.allowedBridges;
    this.xapi = config.xapi === undefined ? null : new XapiWiring(config.xapi, {
      limits: () => ({ defaultLimit: this.config.xapi?.vifLimit ?? this.config.vifLimit.default, maxLimit: this.config.vifLimit.max, hostDefault: this.config.vifLimit.default }),
      exists: (name) => devices.exists(name), fakeBridge, macPrefix: config.macPrefix, onChange: (change) => { this.onXapiChange(change); }, log,
      ...(allowedBridges === undefined ? {} : { allowedBridges }),
    });
    this.engine = new Engine({
      settings: this.withVfs(config), source: new CompositeSource(...(this.xapi === null ? [] : [this.xapi]), xenVms, ...(this.withLibvirt ? [this.libvirtSource] : [])),
      host, log, metrics: engineMetrics(this.registry), hostReady: async () => { await Promise.all([this.readiness.switchReady(), this.sriovScanned]); },
    });
    this.hotPlug = new HotPlug(this.engine, this.libvirtSource, template, log, undefined, readFileSync(HOSTDEV_TEMPLATE, 'utf8'));
    this.xenHotplug = new XenHotplug(this.xapi?.control(this.engine) ?? this.engine, xenVms, fakeBridge, log, allowedBridges);
    registerScrapeMetrics(this.registry, this.engine, this.ovsdb);
    this.xapi?.registerMetrics(this.registry);
    registerProcessMetrics(this.registry, packageVersion());
    this.sriov?.registerMetrics(this.registry);
  }

  /** The planner's settings: the config plus the VF pools that claim VFs for SR-IOV VIFs. */
  private withVfs(config: HostConfig): PlanSettings {
    return this.sriov === null ? config : { ...config, vfs: this.sriov.vfs };
  }

  private readonly stopped = (uuid: string): void => { this.libvirtSource.forgetRunning(uuid); };

  private infoInputs(): InfoInputs {
    return {
      version: packageVersion(), startedAtMs: this.startedAtMs, config: () => this.config,
      libvirt: (): LibvirtState => (!this.withLibvirt ? 'not used' : this.libvirt === null ? 'connecting' : this.libvirtLost ? 'disconnected' : 'connected'),
      ovsdb: (): ConnectionState => (this.ovsdb.connected ? 'connected' : this.readiness.switchIsReady ? 'disconnected' : 'connecting'),
      bridgeExists: (bridge) => (this.ovsdb.connected ? this.ovsdb.replica.byName('Bridge', bridge) !== undefined : null),
      vifStates: () => this.engine.status(),
    };
  }

  /**
   * A config reload (SIGHUP): networks and VIF limits take effect at once
   * (every VM is reconciled against them), the log level too; sockets,
   * addresses, the MAC prefix and the libvirt URI wait for a restart.
   */
  async reload(next: HostConfig, diff: ConfigDiff): Promise<void> {
    const applied: HostConfig = { ...this.config, networks: next.networks, vifLimit: next.vifLimit, log: next.log };
    this.config = applied;
    this.sriov?.reload(applied);
    this.engine.useSettings(this.withVfs(applied));
    this.log.setLevel?.(next.log.level);
    if (diff.needRestart.length > 0) this.log.warn(`reload: ${diff.needRestart.join(', ')} changed; these apply on restart only`);
    // Without SR-IOV networks at start no netlink socket was opened nor the kind given pools: only a restart adds the first.
    const firstSriov = [...next.networks.values()].filter((network) => network.sriov !== undefined).map((network) => network.name);
    if (this.sriov === null && firstSriov.length > 0) this.log.warn(`reload: ${firstSriov.join(', ')} ${firstSriov.length === 1 ? 'is an SR-IOV network' : 'are SR-IOV networks'}; vifd started without any, so their VFs are allocatable after a restart only`);
    const networksChanged = diff.added.length + diff.removed.length + diff.changed.length > 0;
    // Before the first full reconcile there is nothing to redo: it will use the new settings.
    const reconciling = this.reconciledOnce;
    if ((networksChanged || diff.settings.some((setting) => setting.startsWith('vif_limit'))) && reconciling) {
      await this.reconcileAll('config reload');
      await this.xapi?.recheck();
    }
  }

  /**
   * Serves the control socket and the metrics endpoint, then reaches
   * ovsdb-server and libvirtd in the background. Resolves once the socket
   * serves: a failure to bind it (or the metrics address) is fatal.
   */
  /**
   * `onFatal`: reaching the services failed in a way retries do not cover;
   * the program exits non-zero so systemd restarts it (tests only log).
   */
  /** `sriov`: the SR-IOV pools' sysfs, PF driver and snapshot directory (tests hand in the fake kernel; default the host's). */
  static async start(config: HostConfig, log: EngineLog & Partial<Pick<DaemonLog, 'setLevel'>>,
    options: { onFatal?: (error: Error) => void; sriov?: SriovHostOptions } = {}): Promise<Daemon> {
    const daemon = new Daemon(config, log, options.sriov);
    try {
      // Without libvirtd only XAPI's VMs can be hot-plugged (the XAPI wrapper below); the rest say so at once.
      const hotPlug = daemon.withLibvirt ? daemon.hotPlug : undefined;
      const base = controlHandlers(daemon.engine, log, hotPlug, daemon.readiness, daemon.stopped, daemon.xenHotplug);
      const withXapi = { ...base, ...daemon.xapi?.wrapHandlers(base) };
      const sriov = daemon.sriov;
      // With SR-IOV networks, status lists every VF too (free, quarantined and foreign ones belong to no VIF).
      const status = sriov === null ? withXapi.status : async (params: unknown) => ({ ...(await withXapi.status(params)), vfs: sriov.rows(), pfs: await sriov.pfRows() });
      const chooseVfs = sriov === null ? withXapi['choose-vfs'] : async (params: unknown) => {
        await daemon.sriovScanned;
        return sriov.chooseVfs(params);
      };
      const handlers = { ...withXapi, status, 'choose-vfs': chooseVfs, info: infoHandler(daemon.infoInputs()) };
      daemon.control = await ControlServer.listen(config.controlSocket, handlers, { maxLineBytes: MAX_REQUEST_BYTES });
      // The libvirt hook's fast path (hooks/qemu.d/vifd streams the XML with nc), one socket per op beside the control socket.
      const decide = hookHandler(daemon.engine, daemon.stopped);
      for (const op of HOOK_OPS) {
        daemon.hooks.push(await HookSocketServer.listen(hookSocketPath(dirname(config.controlSocket), op), op, decide,
          { onError: (error) => { log.error(`hook socket ${op}: ${messageOf(error)}`); } }));
      }
      daemon.metrics = await startMetricsServer(daemon.registry, { ...config.metrics.listen, onError: (error) => { log.error(`metrics endpoint: ${error.message}`); } });
    } catch (error) {
      await Promise.all(daemon.hooks.map((hook) => hook.close()));
      await daemon.control?.close();
      daemon.taps.close();
      throw error;
    }
    log.info('vifd serving', { controlSocket: config.controlSocket, metrics: `${daemon.metrics.address.host}:${daemon.metrics.address.port}`, networks: config.networks.size });
    daemon.connecting = daemon.connectServices().catch((error: unknown) => {
      if (!daemon.stopping) options.onFatal?.(error instanceof Error ? error : new Error(String(error)));
    });
    return daemon;
  }

  /** ovsdb-server and libvirtd, each with retries; the first full reconcile once both answer. */
  private async connectServices(): Promise<void> {
    const stopped = (): boolean => this.stopping;
    await this.xapi?.start();
    const switchUp = withRetry(`ovsdb-server at ${this.config.ovsdb.socket}`, this.log, stopped, () => this.ovsdb.start()).then(() => {
      this.readiness.markSwitch();
      this.onXapiChange({ kind: 'resync' });
      this.log.info('connected to ovsdb-server', { socket: this.config.ovsdb.socket });
      this.subscribeSwitch();
    });
    const libvirtUp = !this.withLibvirt ? Promise.resolve() : withRetry(`libvirtd at ${this.config.libvirt.uri}`, this.log, stopped, () => LibvirtConnection.open({ uri: this.config.libvirt.uri }))
      .then(async (connection) => {
        if (this.stopping) {
          await connection.close();
          return;
        }
        this.libvirt = connection;
        this.log.info('connected to libvirtd', { uri: this.config.libvirt.uri });
        this.subscribeLibvirt(connection);
      });
    // GC must know every live VM: on an XAPI host that needs XAPI's records.
    const xapiLoaded = this.xapi?.synced();
    try {
      await Promise.all([switchUp, libvirtUp, xapiLoaded]);
    } catch (error) {
      if (this.stopping) return;
      this.log.error(`vifd could not reach its services: ${messageOf(error)}`);
      throw error;
    }
    if (this.stopping) return;
    await this.sriovScanned;
    await this.reconcileAll('start');
    this.reconciledOnce = true;
    this.log.info('vifd started');
    this.periodic = setInterval(() => { void this.reconcileAll('periodic'); }, PERIODIC_RECONCILE_MS);
  }

  private subscribeSwitch(): void {
    this.ovsdb.on('disconnected', () => { this.log.warn('lost ovsdb-server; reconnecting'); });
    this.ovsdb.on('resynced', () => { if (this.reconciledOnce) void this.reconcileAll('ovsdb-server reconnected'); });
    this.ovsdb.on('update', () => { this.scheduleDriftCheck(); });
  }

  private subscribeLibvirt(connection: LibvirtConnection): void {
    connection.on('event', (event) => { this.onDomainEvent(event); });
    connection.on('disconnected', () => { this.libvirtLost = true; this.log.warn('lost libvirtd; reconnecting'); });
    connection.on('warning', (error) => { this.log.warn(`libvirtd: ${error.message}`); });
    connection.on('resync', () => {
      this.libvirtLost = false;
      if (this.readiness.switchIsReady) void this.reconcileAll('libvirtd reconnected');
    });
  }

  /**
   * XAPI's records changed: the VMs they concern are looked at again (all of
   * them after a resync). Once the switch is loaded that needs no full
   * reconcile first: XAPI speaks for its own VMs, one at a time, and an XAPI
   * host has no libvirtd to wait for.
   */
  private onXapiChange(change: XapiChange): void {
    const xapi = this.xapi;
    if (xapi === null || this.stopping || !this.readiness.switchIsReady) return;
    if (change.kind === 'resync' && this.reconciledOnce) {
      void this.reconcileAll('XAPI resync');
      return;
    }
    const reconcile = (uuid: string): void => {
      this.engine.reconcileDomain(uuid, 'XAPI event').catch((error: unknown) => { this.log.error(`reconcile (XAPI event) of VM ${uuid} failed: ${messageOf(error)}`, { vmUuid: uuid }); });
    };
    if (change.kind === 'vms') change.uuids.forEach(reconcile);
    else {
      xapi.list().then((vms) => { vms.forEach((vm) => { reconcile(vm.uuid); }); },
        // Before XAPI's first load there is nothing to look at: that load reports its own resync.
        (error: unknown) => { if (!(error instanceof XapiNotLoadedError)) this.log.warn(`XAPI resync: ${messageOf(error)}`); });
    }
  }

  private scheduleDriftCheck(): void {
    if (this.driftCheck !== null || this.stopping) return;
    this.driftCheck = setTimeout(() => {
      this.driftCheck = null;
      this.engine.repairDrift().then((count) => {
        if (count > 0) this.log.info(`drift found on ${count} VM(s); repaired`, { vms: count });
      }, (error: unknown) => { this.log.error(`drift check failed: ${messageOf(error)}`); });
    }, DRIFT_CHECK_DELAY_MS);
  }

  private onDomainEvent(event: DomainEvent): void {
    const { uuid, name } = event.domain;
    const reason = event.type === 'lifecycle' ? `${event.event}/${event.detail}` : event.type;
    this.log.debug(`event ${reason} for VM ${JSON.stringify(name)}`, { domain: name, vmUuid: uuid });
    const failed = (what: string) => (error: unknown): void => {
      this.log.error(`${what} for VM ${JSON.stringify(name)} failed: ${messageOf(error)}`, { domain: name, vmUuid: uuid });
    };
    if (event.type === 'lifecycle' && event.event === 'defined') {
      this.engine.checkDefinition(uuid).catch(failed('checking the new definition'));
      return;
    }
    if (event.type === 'device-removal-failed') {
      this.libvirtSource.vifIndexOfAlias(uuid, event.device).then((index) => {
        if (index !== null) this.engine.noteRemovalFailed(uuid, index);
      }).catch(failed(`resolving device ${event.device}`));
      return;
    }
    this.engine.reconcileDomain(uuid, reason).catch(failed(`reconcile (${reason})`));
  }

  async reconcileAll(reason: string): Promise<void> {
    if (this.stopping) return;
    try {
      await this.sriov?.refresh(this.libvirt);
      const { domains } = await this.engine.reconcileAll(reason);
      await this.sriov?.maintain();
      this.log.info(`reconciled (${reason})`, { domains });
    } catch (error) {
      this.log.error(`full reconcile (${reason}) failed: ${messageOf(error)}`);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.periodic !== null) clearInterval(this.periodic);
    if (this.driftCheck !== null) clearTimeout(this.driftCheck);
    await Promise.all(this.hooks.map((hook) => hook.close()));
    await this.control?.close();
    await this.metrics?.close();
    await Promise.race([this.engine.idle(), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    // A connection attempt in flight ends at its next retry (stopping is set); don't wait for it.
    await Promise.race([this.connecting, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    await this.libvirt?.close();
    await this.xapi?.stop();
    this.ovsdb.close();
    this.taps.close();
    this.sriov?.close();
    this.log.info('vifd stopped');
  }
}
