// The simulator's xenopsd: what xenopsd and netback do on a real host when
// xapi starts a VM or plugs a VIF, minus the hypervisor (research notes
// xen-xapi.md §3 and §5D). On start or plug it writes xenopsd's xenstore keys
// into a simulated store (the domain, the backend node, /xapi/<uuid>/private/
// vif/N), creates the `vifD.N` TAP as netback would, runs the vif script with
// xenopsd's argv and environment (XenToolstackStandIn), and resolves only once
// `/xapi/<uuid>/hotplug/<domid>/vif/<N>/hotplug` appears; `hotplug-error`
// fails the plug, and with it VM.start or VIF.plug. On unplug or shutdown it
// runs `remove` and deletes the TAP and the keys.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { TapDevices } from '../../../src/host/tap.js';
import type { SimXenStore } from '../xen/store.js';
import { XenToolstackStandIn, makeScriptDir, removeScriptDir, renderVifVifd } from '../xen/toolstack.js';
import type { ScriptRun, StandInDomain, StandInVif } from '../xen/toolstack.js';
import { XapiFailure } from './failure.js';
import { asText } from './schema.js';
import type { SimVifView, SimVmView, XenopsdHooks } from './xenopsd.js';

/** Where scripts/install.sh and the package put the script. */
export const INSTALLED_VIF_SCRIPT = '/etc/xen/scripts/vif-vifd';
/** A rendered copy to use instead of the installed script (runs without an install). */
export const VIF_SCRIPT_ENV = 'VIFD_XEN_VIF_SCRIPT';
const HOTPLUG_WAIT_MS = 20_000;
const POLL_MS = 50;

export interface VifScriptChoice {
  readonly path: string;
  /** A rendered copy this process made: removed by release(). */
  readonly release: () => void;
}

/**
 * The vif script to run: $VIFD_XEN_VIF_SCRIPT, else the installed one. With
 * CI=true nothing else will do (the test must prove the installed script);
 * elsewhere a copy of hooks/xen/vif-vifd is rendered for this checkout.
 */
export function chooseVifScript(env: NodeJS.ProcessEnv = process.env): VifScriptChoice {
  const given = env[VIF_SCRIPT_ENV];
  if (given !== undefined && given !== '') {
    if (!existsSync(given)) throw new Error(`${VIF_SCRIPT_ENV}=${given}: no such file`);
    return { path: given, release: () => undefined };
  }
  if (existsSync(INSTALLED_VIF_SCRIPT)) return { path: INSTALLED_VIF_SCRIPT, release: () => undefined };
  if (env.CI === 'true') throw new Error(`missing prerequisite: ${INSTALLED_VIF_SCRIPT} is not installed (scripts/install.sh), and ${VIF_SCRIPT_ENV} is not set`);
  const dir = makeScriptDir();
  return { path: renderVifVifd(dir), release: () => { removeScriptDir(dir); } };
}

/** Where netback's devices appear: this process's network namespace by default, or another host's. */
export interface NetbackDevices {
  create(name: string): Promise<void>;
  remove(name: string): Promise<void>;
}

export interface XenopsdStandInOptions {
  readonly store: SimXenStore;
  readonly devices?: NetbackDevices;
  readonly script: string;
  /** Added to the script's environment: VIFD_SOCKET and the hook's bounds. */
  readonly env?: Readonly<Record<string, string>>;
  /** Every script run, for assertions and diagnostics. */
  readonly onRun?: (run: ScriptRun) => void;
}

interface LiveDomain {
  /** The uuid its xenstore keys use: the VM's, or during an incoming migration a temporary one. */
  readonly uuid: string;
  readonly name: string;
  readonly vifs: Map<number, StandInVif>;
}

export class XenopsdStandIn implements XenopsdHooks {
  readonly toolstack: XenToolstackStandIn;
  readonly #taps = new TapDevices();
  readonly #domains = new Map<number, LiveDomain>();
  readonly #devices: NetbackDevices;

  constructor(private readonly options: XenopsdStandInOptions) {
    this.toolstack = new XenToolstackStandIn(options.store, options.script, options.env ?? {});
    this.#devices = options.devices ?? {
      create: (name) => { this.#taps.ensure({ name, up: false }); return Promise.resolve(); },
      remove: (name) => { this.#taps.delete(name); return Promise.resolve(); },
    };
  }

  get store(): SimXenStore {
    return this.options.store;
  }

  /** The domids of the domains up, for assertions. */
  domids(): number[] {
    return [...this.#domains.keys()];
  }

  #domain(domid: number): StandInDomain {
    const live = this.#domains.get(domid);
    if (live === undefined) throw new Error(`xenopsd stand-in: no domain ${domid}`);
    return { toolstack: 'xenopsd', domid, uuid: live.uuid, name: live.name, vifs: [...live.vifs.values()] };
  }

  onVmStart(vm: SimVmView): Promise<void> {
    this.#createDomain(vm.domid, vm.uuid, asText(vm.record.name_label));
    return Promise.resolve();
  }

  #createDomain(domid: number, uuid: string, name: string, finalUuid?: string): LiveDomain {
    const live = { uuid, name, vifs: new Map<number, StandInVif>() };
    this.#domains.set(domid, live);
    this.store.writeAll(`/local/domain/${domid}`, { vm: `/vm/${uuid}`, name, domid: String(domid) });
    this.store.writeAll(`/vm/${uuid}`, { uuid, name, ...(finalUuid === undefined ? {} : { 'final-uuid': finalUuid }) });
    return live;
  }

  async onVifPlug(vm: SimVmView, vif: SimVifView): Promise<void> {
    const live = this.#domains.get(vm.domid);
    if (live === undefined) throw new XapiFailure('INTERNAL_ERROR', [`xenopsd stand-in: domain ${vm.domid} of VM ${vm.uuid} is not up`]);
    await this.#plug(vm.domid, live, vifSpec(vif));
  }

  async #plug(domid: number, live: LiveDomain, spec: StandInVif): Promise<void> {
    live.vifs.set(spec.devid, spec);
    this.#writeVifKeys(domid, live.uuid, spec);
    // Netback creates the backend device before the script runs; the script brings it up.
    await this.#devices.create(`vif${domid}.${spec.devid}`);
    const runs = await this.toolstack.plug(this.#domain(domid), spec.devid);
    for (const run of runs) this.options.onRun?.(run);
    await this.#awaitHotplug(domid, live.uuid, spec.devid, runs);
  }

  async onVifUnplug(vm: SimVmView, vif: SimVifView): Promise<void> {
    await this.#unplug(vm.domid, vif.device);
  }

  async #unplug(domid: number, devid: number): Promise<void> {
    const live = this.#domains.get(domid);
    if (live?.vifs.has(devid) !== true) return;
    const runs = await this.toolstack.unplug(this.#domain(domid), devid);
    for (const run of runs) this.options.onRun?.(run);
    // xenopsd goes on whatever the script said: the device is gone with the frontend.
    await this.#devices.remove(`vif${domid}.${devid}`);
    live.vifs.delete(devid);
    this.store.rm(`/local/domain/${domid}/device/vif/${devid}`);
    this.store.rm(`/local/domain/0/backend/vif/${domid}/${devid}`);
    this.store.rm(`/xapi/${live.uuid}/private/vif/${devid}`);
    this.store.rm(`/xapi/${live.uuid}/hotplug/${domid}/vif/${devid}`);
  }

  async onVmShutdown(vm: SimVmView): Promise<void> {
    await this.#destroyDomain(vm.domid);
  }

  async #destroyDomain(domid: number): Promise<void> {
    const live = this.#domains.get(domid);
    if (live === undefined) return;
    for (const device of live.vifs.keys()) await this.#devices.remove(`vif${domid}.${device}`);
    for (const path of [`/local/domain/${domid}`, `/local/domain/0/backend/vif/${domid}`, `/vm/${live.uuid}`, `/xapi/${live.uuid}`]) this.store.rm(path);
    this.#domains.delete(domid);
  }

  /**
   * The destination side of a migration: the domain arrives under a temporary
   * uuid with `/vm/<tmp>/final-uuid` naming the VM, and its VIFs are plugged
   * through the script as at a start (xenops_server_xen.ml; research notes §3).
   */
  async migrateIn(to: SimVmView, vifs: readonly StandInVif[]): Promise<void> {
    const live = this.#createDomain(to.domid, randomUUID(), asText(to.record.name_label), to.uuid);
    for (const spec of vifs) await this.#plug(to.domid, live, spec);
  }

  /** The source side once the guest runs at the destination: every VIF's `remove`, then the domain goes. */
  async migrateOut(from: SimVmView): Promise<StandInVif[]> {
    const vifs = [...this.#domains.get(from.domid)?.vifs.values() ?? []];
    for (const spec of [...vifs].reverse()) await this.#unplug(from.domid, spec.devid);
    await this.#destroyDomain(from.domid);
    return vifs;
  }

  /** The VIFs a domain has plugged, as the destination of a migration needs them. */
  vifsOf(domid: number): StandInVif[] {
    return [...this.#domains.get(domid)?.vifs.values() ?? []];
  }

  /** xenopsd Device.Vif.add: the frontend and backend nodes, and the private node the script reads. */
  #writeVifKeys(domid: number, uuid: string, spec: StandInVif): void {
    const backend = `backend/vif/${domid}/${spec.devid}`;
    const frontend = `/local/domain/${domid}/device/vif/${spec.devid}`;
    this.store.writeAll(frontend, { backend: `/local/domain/0/${backend}`, 'backend-id': '0', state: '1', handle: String(spec.devid), mac: spec.mac });
    this.store.writeAll(backend, {
      frontend, 'frontend-id': String(domid), online: '1', state: '1', script: this.options.script, mac: spec.mac, handle: String(spec.devid),
    });
    this.store.writeAll(`/xapi/${uuid}/private/vif/${spec.devid}`, {
      mac: spec.mac, bridge: spec.bridge, 'bridge-MAC': 'fe:ff:ff:ff:ff:ff', 'setup-vif-rules': '/usr/lib/xcp/scripts/setup-vif-rules',
      'xenopsd-backend': 'classic', ...spec.xapiKeys,
    });
  }

  /** xenopsd waits for the script's `hotplug` key, or for `hotplug-error`, which fails the plug. */
  async #awaitHotplug(domid: number, uuid: string, devid: number, runs: readonly ScriptRun[]): Promise<void> {
    const key = `/xapi/${uuid}/hotplug/${domid}/vif/${devid}/hotplug`;
    const errorKey = `/local/domain/0/backend/vif/${domid}/${devid}/hotplug-error`;
    const deadline = Date.now() + HOTPLUG_WAIT_MS;
    for (;;) {
      const error = this.store.read(errorKey);
      if (error !== null) throw new XapiFailure('INTERNAL_ERROR', [`xenopsd: hotplug of vif${domid}.${devid} failed: ${error}`]);
      if (this.store.read(key) !== null) return;
      if (Date.now() > deadline) {
        const last = runs.at(-1);
        throw new XapiFailure('INTERNAL_ERROR', [`xenopsd: timed out waiting for ${key} (script exit ${String(last?.code)}: ${last?.stderr.trim() ?? ''})`]);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Domains still up (a test that failed half-way): their TAPs and keys go. */
  async close(): Promise<void> {
    for (const domid of [...this.#domains.keys()]) await this.#destroyDomain(domid).catch(() => undefined);
    this.#taps.close();
    this.toolstack.close();
  }
}

/** What xapi hands xenopsd for one VIF (Xapi_xenops.MD.of_vif): the network's bridge, the MAC, MTU, trunks. */
function vifSpec(vif: SimVifView): StandInVif {
  const otherConfig = vif.record.other_config;
  const mtuOverride = typeof otherConfig === 'object' && otherConfig !== null && !Array.isArray(otherConfig) ? otherConfig.mtu : undefined;
  const mtu = mtuOverride ?? vif.networkRecord.MTU;
  const keys: Record<string, string> = { 'vif-uuid': vif.uuid, 'network-uuid': asText(vif.networkRecord.uuid) };
  if (mtu !== undefined && mtu !== null && asText(mtu) !== '') keys.MTU = asText(mtu);
  // network_default is resolved by xapi before xenopsd sees it.
  const lockingMode = vif.record.locking_mode === 'network_default' ? vif.networkRecord.default_locking_mode : vif.record.locking_mode;
  if (typeof lockingMode === 'string' && lockingMode !== '') keys['locking-mode'] = lockingMode;
  return { devid: vif.device, mac: asText(vif.record.MAC), bridge: asText(vif.networkRecord.bridge), xapiKeys: keys };
}

/**
 * The pool's xenopsds: each host's stand-in gets the calls for the VMs on
 * that host, and a migration runs the destination's plugs (temporary uuid,
 * final-uuid) before the source's removes, as xenopsd does.
 */
export class XenopsdPool implements XenopsdHooks {
  constructor(private readonly byHost: ReadonlyMap<string, XenopsdStandIn>) {}

  #on(hostRef: string): XenopsdStandIn {
    const standIn = this.byHost.get(hostRef);
    if (standIn === undefined) throw new XapiFailure('INTERNAL_ERROR', [`xenopsd stand-in: no xenopsd on host ${hostRef}`]);
    return standIn;
  }

  onVmStart(vm: SimVmView): Promise<void> { return this.#on(vm.hostRef).onVmStart(vm); }
  onVifPlug(vm: SimVmView, vif: SimVifView): Promise<void> { return this.#on(vm.hostRef).onVifPlug(vm, vif); }
  onVifUnplug(vm: SimVmView, vif: SimVifView): Promise<void> { return this.#on(vm.hostRef).onVifUnplug(vm, vif); }
  onVmShutdown(vm: SimVmView): Promise<void> { return this.#on(vm.hostRef).onVmShutdown(vm); }

  async onVmMigrate(vm: SimVmView, to: SimVmView): Promise<void> {
    const source = this.#on(vm.hostRef);
    await this.#on(to.hostRef).migrateIn(to, source.vifsOf(vm.domid));
    await source.migrateOut(vm);
  }
}
