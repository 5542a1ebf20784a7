// A toolstack stand-in: does what libxl or xenopsd does around a vif hotplug
// script, minus the hypervisor. It allocates a domid, writes the xenstore keys
// into the simulated store as that toolstack would, creates the backend
// devices with the names netback and QEMU/xenopsd give them (a TAP named
// vif7.0, tap7.0 or vif7.0-emu stands in for each), and runs the script with
// that toolstack's exact argv and environment (sources: research notes
// xen-xapi.md §3-§4; libxl_linux.c get_hotplug_env and libxl__hotplug_nic;
// xenopsd hotplug.ml run_hotplug_script).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TapDevices } from '../../../src/host/tap.js';
import type { SimXenStore } from './store.js';

export type Toolstack = 'libxl' | 'xenopsd';

export interface StandInVif {
  readonly devid: number;
  /** The guest's MAC. */
  readonly mac: string;
  /** libxl: the `bridge` key as written (BRIDGE[.VLAN][:TRUNK...]); xenopsd: private/bridge. */
  readonly bridge: string;
  /** An HVM guest's emulated twin: libxl `vifD.N-emu`, xenopsd `tapD.N`. */
  readonly emulated?: boolean;
  /** xenopsd's private keys beyond bridge and mac (MTU, trunks, locking-mode, ...), as strings. */
  readonly xapiKeys?: Readonly<Record<string, string>>;
}

export interface StandInDomain {
  readonly toolstack: Toolstack;
  readonly domid: number;
  readonly uuid: string;
  readonly name: string;
  readonly vifs: readonly StandInVif[];
}

export interface ScriptRun {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export type DeviceType = 'vif' | 'tap';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SCRIPT_TIMEOUT_MS = 40_000; // libxl's bound

/** hooks/xen/vif-vifd with its install paths filled in for this checkout, as scripts/install.sh fills them. */
export function renderVifVifd(dir: string): string {
  const template = readFileSync(join(REPO_ROOT, 'hooks/xen/vif-vifd'), 'utf8');
  const path = join(dir, 'vif-vifd');
  writeFileSync(path, template.replaceAll('@NODE@', process.execPath).replaceAll('@LIBDIR@', REPO_ROOT.replace(/\/$/, '')), { mode: 0o755 });
  return path;
}

export function makeScriptDir(): string {
  return mkdtempSync(join(tmpdir(), 'vifd-xen-script-'));
}

export function deviceName(domain: StandInDomain, devid: number, type: DeviceType): string {
  if (type === 'vif') return `vif${domain.domid}.${devid}`;
  return domain.toolstack === 'libxl' ? `vif${domain.domid}.${devid}-emu` : `tap${domain.domid}.${devid}`;
}

export class XenToolstackStandIn {
  readonly #taps = new TapDevices();
  readonly #domains = new Map<number, StandInDomain>();

  constructor(
    readonly store: SimXenStore,
    /** The hotplug script this toolstack is configured to run (libxl `script=`, xenopsd `vif-script`). */
    readonly script: string,
    /** Added to the script's environment: VIFD_SOCKET, bounds. */
    readonly extraEnv: Readonly<Record<string, string>> = {},
  ) {}

  /** A domid no netback-named device on this host uses: the range above a lab's usual ones. */
  #allocateDomid(): number {
    for (;;) {
      const domid = 1000 + Math.floor(Math.random() * 30_000);
      if (!this.#domains.has(domid) && !existsSync(`/sys/class/net/vif${domid}.0`) && !existsSync(`/sys/class/net/tap${domid}.0`)) return domid;
    }
  }

  /** Builds the domain: its xenstore keys and, for each VIF, the backend devices netback (and QEMU) would create. */
  createDomain(spec: { toolstack: Toolstack; uuid: string; name: string; vifs: readonly StandInVif[] }): StandInDomain {
    const domain: StandInDomain = { ...spec, domid: this.#allocateDomid() };
    this.#domains.set(domain.domid, domain);
    const home = `/local/domain/${domain.domid}`;
    this.store.writeAll(home, { vm: `/vm/${domain.uuid}`, name: domain.name, domid: String(domain.domid) });
    this.store.writeAll(`/vm/${domain.uuid}`, { uuid: domain.uuid, name: domain.name });
    for (const vif of domain.vifs) this.#addVifKeys(domain, vif);
    for (const vif of domain.vifs) {
      this.#taps.ensure({ name: deviceName(domain, vif.devid, 'vif'), up: false });
      if (vif.emulated === true) this.#taps.ensure({ name: deviceName(domain, vif.devid, 'tap'), up: false });
    }
    return domain;
  }

  #addVifKeys(domain: StandInDomain, vif: StandInVif): void {
    const backend = `backend/vif/${domain.domid}/${vif.devid}`;
    const frontend = `/local/domain/${domain.domid}/device/vif/${vif.devid}`;
    this.store.writeAll(frontend, { backend: `/local/domain/0/${backend}`, 'backend-id': '0', state: '1', handle: String(vif.devid), mac: vif.mac });
    const common = { frontend, 'frontend-id': String(domain.domid), online: '1', state: '1', script: this.script, mac: vif.mac, handle: String(vif.devid) };
    if (domain.toolstack === 'libxl') {
      // libxl__set_xenstore_nic: the bridge goes in the backend node, type says PV or PV+emulated.
      this.store.writeAll(backend, { ...common, bridge: vif.bridge, type: vif.emulated === true ? 'vif_ioemu' : 'vif' });
      return;
    }
    // xenopsd Device.Vif.add: backend node without the bridge; the rest in its private node.
    this.store.writeAll(backend, common);
    this.store.writeAll(`/xapi/${domain.uuid}/private/vif/${vif.devid}`, {
      mac: vif.mac, bridge: vif.bridge, 'bridge-MAC': 'fe:ff:ff:ff:ff:ff', 'setup-vif-rules': '/usr/lib/xcp/scripts/setup-vif-rules',
      'xenopsd-backend': 'classic', ...vif.xapiKeys,
    });
  }

  /** The argv the toolstack passes (after the script's own path). xenopsd's direct call has no type_if; its udev rules add it. */
  argv(domain: StandInDomain, command: string, type: DeviceType, options: { udev?: boolean } = {}): string[] {
    if (domain.toolstack === 'libxl' || options.udev === true) return [command, `type_if=${type}`];
    return [command];
  }

  /** The environment the toolstack adds to its own. */
  env(domain: StandInDomain, devid: number, type: DeviceType): Record<string, string> {
    if (domain.toolstack === 'libxl') {
      // get_hotplug_env: XENBUS_TYPE is the backend kind (vif) for both calls; INTERFACE only for an emulated NIC.
      const vif = domain.vifs.find((candidate) => candidate.devid === devid);
      return {
        script: this.script, XENBUS_TYPE: 'vif', XENBUS_PATH: `backend/vif/${domain.domid}/${devid}`, XENBUS_BASE_PATH: 'backend', netdev: '',
        ...(vif?.emulated === true ? { INTERFACE: deviceName(domain, devid, 'tap') } : {}), vif: deviceName(domain, devid, 'vif'),
      };
    }
    // run_hotplug_script: kind-specific path and name; XENBUS_PREFIX is empty for dom0's backends.
    return {
      script: this.script, XENBUS_TYPE: type, XENBUS_PATH: `backend/${type}/${domain.domid}/${devid}`, XENBUS_BASE_PATH: 'backend',
      XENBUS_PREFIX: '', INTERFACE: `${type}${domain.domid}.${devid}`,
    };
  }

  /** Runs the script once, as the toolstack would, with the simulated store's programs first on PATH. */
  run(domain: StandInDomain, devid: number, command: string, type: DeviceType, options: { udev?: boolean; script?: string } = {}): Promise<ScriptRun> {
    const argv = this.argv(domain, command, type, options);
    const env = { ...this.store.env(), ...this.extraEnv, ...this.env(domain, devid, type) };
    return runScript(options.script ?? this.script, argv, env);
  }

  /** The calls the toolstack makes to bring one VIF up, in order; stops at the first failure. */
  async plug(domain: StandInDomain, devid: number): Promise<ScriptRun[]> {
    const emulated = domain.vifs.find((vif) => vif.devid === devid)?.emulated === true;
    const calls: [string, DeviceType][] = domain.toolstack === 'libxl'
      ? [['online', 'vif'], ...(emulated ? [['add', 'tap'] as [string, DeviceType]] : [])]
      : [['add', 'vif'], ['online', 'vif'], ...(emulated ? [['add', 'tap'], ['online', 'tap']] as [string, DeviceType][] : [])];
    return this.#sequence(domain, devid, calls);
  }

  /** The calls that take one VIF down. */
  async unplug(domain: StandInDomain, devid: number): Promise<ScriptRun[]> {
    const emulated = domain.vifs.find((vif) => vif.devid === devid)?.emulated === true;
    const calls: [string, DeviceType][] = domain.toolstack === 'libxl'
      ? [['offline', 'vif'], ...(emulated ? [['remove', 'tap'] as [string, DeviceType]] : [])]
      : [['remove', 'vif'], ...(emulated ? [['remove', 'tap'] as [string, DeviceType]] : [])];
    return this.#sequence(domain, devid, calls);
  }

  async #sequence(domain: StandInDomain, devid: number, calls: readonly [string, DeviceType][]): Promise<ScriptRun[]> {
    const runs: ScriptRun[] = [];
    for (const [command, type] of calls) {
      const run = await this.run(domain, devid, command, type);
      runs.push(run);
      if (run.code !== 0) break;
    }
    return runs;
  }

  /** What the toolstack removes when the domain is gone: its devices and its keys. */
  destroyDomain(domain: StandInDomain): void {
    for (const vif of domain.vifs) {
      this.#taps.delete(deviceName(domain, vif.devid, 'vif'));
      if (vif.emulated === true) this.#taps.delete(deviceName(domain, vif.devid, 'tap'));
    }
    for (const path of [`/local/domain/${domain.domid}`, `/local/domain/0/backend/vif/${domain.domid}`, `/local/domain/0/backend/tap/${domain.domid}`, `/vm/${domain.uuid}`, `/xapi/${domain.uuid}`]) {
      this.store.rm(path);
    }
    this.#domains.delete(domain.domid);
  }

  /** Destroys every domain still up and releases the TAP handle. */
  close(): void {
    for (const domain of [...this.#domains.values()]) this.destroyDomain(domain);
    this.#taps.close();
  }
}

export function runScript(script: string, argv: readonly string[], env: Readonly<Record<string, string>>): Promise<ScriptRun> {
  const started = performance.now();
  return new Promise((settle, reject) => {
    // The toolstack's own environment is inherited (as libxl and xenopsd do), then the device's variables on top.
    const child = spawn(script, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: SCRIPT_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => { settle({ argv, env, code, stdout, stderr, ms: performance.now() - started }); });
  });
}

export function removeScriptDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
