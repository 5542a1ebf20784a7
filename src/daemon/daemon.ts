// The daemon's wiring: connect to ovsdb-server and libvirtd (waiting for
// them, with backoff), subscribe to events before listing anything, open the
// control socket and the metrics endpoint, then reconcile the whole host.
// Every reconnect to either service triggers another full reconcile, and a
// slow periodic one catches whatever an event could not tell.
import { readFileSync } from 'node:fs';
import { ControlServer } from '../api/control-server.js';
import { MetricsRegistry, startMetricsServer } from '../api/metrics.js';
import type { MetricsServer } from '../api/metrics.js';
import type { HostConfig } from '../config/schema.js';
import { LibvirtDomainSource } from '../engine/domain-source.js';
import { Engine } from '../engine/engine.js';
import type { HostEffectors } from '../engine/executor.js';
import { HotPlug } from '../engine/hotplug.js';
import { replugThroughLibvirt } from '../engine/replug.js';
import type { EngineLog } from '../engine/types.js';
import { OvsdbClient } from '../host/ovsdb/client.js';
import { PORT_MONITOR, listOwnedPorts } from '../host/ovsdb/ports.js';
import { PortWriter } from '../host/ovsdb/port-writer.js';
import { TapDevices } from '../host/tap.js';
import { LibvirtConnection } from '../libvirt/connection.js';
import type { DomainEvent } from '../libvirt/events.js';
import { Backoff } from '../model/backoff.js';
import { VifdError } from '../model/errors.js';
import { TAP_TEMPLATE } from '../model/render.js';
import { controlHandlers } from './handlers.js';
import { engineMetrics, registerScrapeMetrics } from './metrics.js';

const PERIODIC_RECONCILE_MS = 5 * 60_000;
/** Switch changes come in bursts (vifd's own writes among them): look for drift once they settle. */
const DRIFT_CHECK_DELAY_MS = 500;

/** Retries `attempt` with backoff until it succeeds or `stopped()` says to give up. */
async function withRetry<T>(what: string, log: EngineLog, stopped: () => boolean, attempt: () => Promise<T>): Promise<T> {
  const backoff = new Backoff(250, 5000);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (stopped()) throw error;
      const delay = backoff.next();
      log.warn(`waiting for ${what}: ${(error as Error).message}; retrying in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export class Daemon {
  private periodic: NodeJS.Timeout | null = null;
  private driftCheck: NodeJS.Timeout | null = null;
  private stopping = false;

  private constructor(
    readonly engine: Engine,
    private readonly ovsdb: OvsdbClient,
    private readonly libvirt: LibvirtConnection,
    private readonly taps: TapDevices,
    private readonly control: ControlServer,
    private readonly metrics: MetricsServer,
    private readonly log: EngineLog,
  ) {}

  static async start(config: HostConfig, log: EngineLog): Promise<Daemon> {
    let aborted = false;
    const ovsdb = new OvsdbClient({ socketPath: config.ovsdb.socket, monitor: PORT_MONITOR });
    await withRetry(`ovsdb-server at ${config.ovsdb.socket}`, log, () => aborted, () => ovsdb.start());
    const libvirt = await withRetry(`libvirtd at ${config.libvirt.uri}`, log, () => aborted, () => LibvirtConnection.open({ uri: config.libvirt.uri }))
      .catch((error: unknown) => { ovsdb.close(); throw error; });
    const taps = new TapDevices();
    const writer = new PortWriter(ovsdb);
    const host: HostEffectors = {
      taps, ports: writer,
      ownedPorts: () => listOwnedPorts(ovsdb.replica),
    };
    const registry = new MetricsRegistry({ onCollectError: (error) => { log.warn(`metrics: ${(error as Error).message}`); } });
    const domains = new LibvirtDomainSource(libvirt);
    const template = readFileSync(TAP_TEMPLATE, 'utf8');
    const engine = new Engine({
      settings: config, domains, control: domains, host, log, metrics: engineMetrics(registry), replug: replugThroughLibvirt(domains, template, log),
    });
    const hotPlug = new HotPlug(engine, domains, template, log);
    registerScrapeMetrics(registry, engine, ovsdb);
    let control: ControlServer | null = null;
    try {
      control = await ControlServer.listen(config.controlSocket, controlHandlers(engine, log, hotPlug));
      const metrics = await startMetricsServer(registry, { ...config.metrics.listen, onError: (error) => { log.error(`metrics endpoint: ${error.message}`); } });
      const daemon = new Daemon(engine, ovsdb, libvirt, taps, control, metrics, log);
      daemon.subscribe();
      log.info('vifd started', { controlSocket: config.controlSocket, metrics: `${metrics.address.host}:${metrics.address.port}`, networks: config.networks.size });
      await daemon.reconcileAll('start');
      daemon.periodic = setInterval(() => { void daemon.reconcileAll('periodic'); }, PERIODIC_RECONCILE_MS);
      return daemon;
    } catch (error) {
      aborted = true;
      await control?.close();
      await libvirt.close();
      ovsdb.close();
      taps.close();
      throw error;
    }
  }

  private subscribe(): void {
    this.libvirt.on('event', (event) => { this.onDomainEvent(event); });
    this.libvirt.on('disconnected', () => { this.log.warn('lost libvirtd; reconnecting'); });
    this.libvirt.on('resync', () => { void this.reconcileAll('libvirtd reconnected'); });
    this.ovsdb.on('disconnected', () => { this.log.warn('lost ovsdb-server; reconnecting'); });
    this.ovsdb.on('resynced', () => { void this.reconcileAll('ovsdb-server reconnected'); });
    this.ovsdb.on('update', () => { this.scheduleDriftCheck(); });
  }

  private scheduleDriftCheck(): void {
    if (this.driftCheck !== null || this.stopping) return;
    this.driftCheck = setTimeout(() => {
      this.driftCheck = null;
      this.engine.repairDrift().then((count) => {
        if (count > 0) this.log.info(`drift found on ${count} VM(s); repaired`, { vms: count });
      }, (error: unknown) => { this.log.error(`drift check failed: ${(error as Error).message}`); });
    }, DRIFT_CHECK_DELAY_MS);
  }

  private onDomainEvent(event: DomainEvent): void {
    const { uuid, name } = event.domain;
    const reason = event.type === 'lifecycle' ? `${event.event}/${event.detail}` : event.type;
    this.log.debug(`event ${reason} for VM ${JSON.stringify(name)}`, { domain: name, vmUuid: uuid });
    if (event.type === 'lifecycle' && event.event === 'defined') {
      void this.engine.checkDefinition(uuid);
      return;
    }
    if (event.type === 'device-removal-failed') {
      this.engine.noteRemovalFailed(uuid, event.device).catch((error: unknown) => {
        this.log.warn(`cannot resolve device ${event.device} of VM ${uuid}: ${(error as Error).message}`, { vmUuid: uuid });
      });
      return;
    }
    void this.engine.reconcileDomain(uuid, reason);
  }

  async reconcileAll(reason: string): Promise<void> {
    if (this.stopping) return;
    try {
      const { domains } = await this.engine.reconcileAll(reason);
      this.log.info(`reconciled (${reason})`, { domains });
    } catch (error) {
      this.log.error(`full reconcile (${reason}) failed: ${error instanceof VifdError || error instanceof Error ? error.message : String(error)}`);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.periodic !== null) clearInterval(this.periodic);
    if (this.driftCheck !== null) clearTimeout(this.driftCheck);
    await this.control.close();
    await this.metrics.close();
    await Promise.race([this.engine.idle(), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    await this.libvirt.close();
    this.ovsdb.close();
    this.taps.close();
    this.log.info('vifd stopped');
  }
}
