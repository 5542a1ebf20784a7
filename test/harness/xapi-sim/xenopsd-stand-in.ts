// The simulator's xenopsd: what xenopsd and netback do on a real host when
// xapi starts a VM or plugs a VIF, minus the hypervisor (research notes
// xen-xapi.md §3 and §5D). On start or plug it writes xenopsd's xenstore keys
// into a simulated store (the domain, the backend node, /xapi/<uuid>/private/
// vif/N), creates the `vifD.N` TAP as netback would, runs the vif script with
// xenopsd's argv and environment (XenToolstackStandIn), and resolves only once
// `/xapi/<uuid>/hotplug/<domid>/vif/<N>/hotplug` appears; `hotplug-error`
// fails the plug, and with it VM.start or VIF.plug. On unplug or shutdown it
// runs `remove` and deletes the TAP and the keys.
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

export interface XenopsdStandInOptions {
  readonly store: SimXenStore;
  readonly script: string;
  /** Added to the script's environment: VIFD_SOCKET and the hook's bounds. */
  readonly env?: Readonly<Record<string, string>>;
  /** Every script run, for assertions and diagnostics. */
  readonly onRun?: (run: ScriptRun) => void;
}

interface LiveDomain {
  readonly uuid: string;
  readonly name: string;
  readonly vifs: Map<number, StandInVif>;
}

export class XenopsdStandIn implements XenopsdHooks {
  readonly toolstack: XenToolstackStandIn;
  readonly #taps = new TapDevices();
  readonly #domains = new Map<number, LiveDomain>();

  constructor(private readonly options: XenopsdStandInOptions) {
    this.toolstack = new XenToolstackStandIn(options.store, options.script, options.env ?? {});
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
    const name = asText(vm.record.name_label);
    this.#domains.set(vm.domid, { uuid: vm.uuid, name, vifs: new Map() });
    this.store.writeAll(`/local/domain/${vm.domid}`, { vm: `/vm/${vm.uuid}`, name, domid: String(vm.domid) });
    this.store.writeAll(`/vm/${vm.uuid}`, { uuid: vm.uuid, name });
    return Promise.resolve();
  }

  async onVifPlug(vm: SimVmView, vif: SimVifView): Promise<void> {
    const live = this.#domains.get(vm.domid);
    if (live === undefined) throw new XapiFailure('INTERNAL_ERROR', [`xenopsd stand-in: domain ${vm.domid} of VM ${vm.uuid} is not up`]);
    const spec = vifSpec(vif);
    live.vifs.set(vif.device, spec);
    this.#writeVifKeys(vm, spec, vif);
    const tap = `vif${vm.domid}.${vif.device}`;
    // Netback creates the backend device before the script runs; the script brings it up.
    this.#taps.ensure({ name: tap, up: false });
    const runs = await this.toolstack.plug(this.#domain(vm.domid), vif.device);
    for (const run of runs) this.options.onRun?.(run);
    await this.#awaitHotplug(vm, vif.device, runs);
  }

  async onVifUnplug(vm: SimVmView, vif: SimVifView): Promise<void> {
    const live = this.#domains.get(vm.domid);
    if (live?.vifs.has(vif.device) !== true) return;
    const runs = await this.toolstack.unplug(this.#domain(vm.domid), vif.device);
    for (const run of runs) this.options.onRun?.(run);
    // xenopsd goes on whatever the script said: the device is gone with the frontend.
    this.#taps.delete(`vif${vm.domid}.${vif.device}`);
    live.vifs.delete(vif.device);
    this.store.rm(`/local/domain/${vm.domid}/device/vif/${vif.device}`);
    this.store.rm(`/local/domain/0/backend/vif/${vm.domid}/${vif.device}`);
    this.store.rm(`/xapi/${vm.uuid}/private/vif/${vif.device}`);
    this.store.rm(`/xapi/${vm.uuid}/hotplug/${vm.domid}/vif/${vif.device}`);
  }

  onVmShutdown(vm: SimVmView): Promise<void> {
    const live = this.#domains.get(vm.domid);
    for (const device of live?.vifs.keys() ?? []) this.#taps.delete(`vif${vm.domid}.${device}`);
    for (const path of [`/local/domain/${vm.domid}`, `/local/domain/0/backend/vif/${vm.domid}`, `/vm/${vm.uuid}`, `/xapi/${vm.uuid}`]) this.store.rm(path);
    this.#domains.delete(vm.domid);
    return Promise.resolve();
  }

  /** xenopsd Device.Vif.add: the frontend and backend nodes, and the private node the script reads. */
  #writeVifKeys(vm: SimVmView, spec: StandInVif, vif: SimVifView): void {
    const backend = `backend/vif/${vm.domid}/${spec.devid}`;
    const frontend = `/local/domain/${vm.domid}/device/vif/${spec.devid}`;
    this.store.writeAll(frontend, { backend: `/local/domain/0/${backend}`, 'backend-id': '0', state: '1', handle: String(spec.devid), mac: spec.mac });
    this.store.writeAll(backend, {
      frontend, 'frontend-id': String(vm.domid), online: '1', state: '1', script: this.options.script, mac: spec.mac, handle: String(spec.devid),
    });
    this.store.writeAll(`/xapi/${vm.uuid}/private/vif/${spec.devid}`, {
      mac: spec.mac, bridge: spec.bridge, 'bridge-MAC': 'fe:ff:ff:ff:ff:ff', 'setup-vif-rules': '/usr/lib/xcp/scripts/setup-vif-rules',
      'xenopsd-backend': 'classic', 'vif-uuid': vif.uuid, 'network-uuid': asText(vif.networkRecord.uuid), ...spec.xapiKeys,
    });
  }

  /** xenopsd waits for the script's `hotplug` key, or for `hotplug-error`, which fails the plug. */
  async #awaitHotplug(vm: SimVmView, devid: number, runs: readonly ScriptRun[]): Promise<void> {
    const key = `/xapi/${vm.uuid}/hotplug/${vm.domid}/vif/${devid}/hotplug`;
    const errorKey = `/local/domain/0/backend/vif/${vm.domid}/${devid}/hotplug-error`;
    const deadline = Date.now() + HOTPLUG_WAIT_MS;
    for (;;) {
      const error = this.store.read(errorKey);
      if (error !== null) throw new XapiFailure('INTERNAL_ERROR', [`xenopsd: hotplug of vif${vm.domid}.${devid} failed: ${error}`]);
      if (this.store.read(key) !== null) return;
      if (Date.now() > deadline) {
        const last = runs.at(-1);
        throw new XapiFailure('INTERNAL_ERROR', [`xenopsd: timed out waiting for ${key} (script exit ${String(last?.code)}: ${last?.stderr.trim() ?? ''})`]);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Domains still up (a test that failed half-way): their TAPs and keys go. */
  close(): void {
    for (const [domid, live] of this.#domains) {
      for (const device of live.vifs.keys()) this.#taps.delete(`vif${domid}.${device}`);
      this.store.rm(`/local/domain/${domid}`);
    }
    this.#domains.clear();
    this.#taps.close();
    this.toolstack.close();
  }
}

/** What xapi hands xenopsd for one VIF (Xapi_xenops.MD.of_vif): the network's bridge, the MAC, MTU, trunks. */
function vifSpec(vif: SimVifView): StandInVif {
  const otherConfig = vif.record.other_config;
  const mtuOverride = typeof otherConfig === 'object' && otherConfig !== null && !Array.isArray(otherConfig) ? otherConfig.mtu : undefined;
  const mtu = mtuOverride ?? vif.networkRecord.MTU;
  const keys: Record<string, string> = {};
  if (mtu !== undefined && mtu !== null && asText(mtu) !== '') keys.MTU = asText(mtu);
  // network_default is resolved by xapi before xenopsd sees it.
  const lockingMode = vif.record.locking_mode === 'network_default' ? vif.networkRecord.default_locking_mode : vif.record.locking_mode;
  if (typeof lockingMode === 'string' && lockingMode !== '') keys['locking-mode'] = lockingMode;
  return { devid: vif.device, mac: asText(vif.record.MAC), bridge: asText(vif.networkRecord.bridge), xapiKeys: keys };
}
