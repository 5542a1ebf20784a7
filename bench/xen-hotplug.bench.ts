// The Xen vif hotplug row of `make bench`: how long a VIF takes from the
// hotplug script's start to `hotplug-status=connected`, on a bridge that
// already holds 1,000 ports, for 1 VIF and for a VM's 7 VIFs started at once.
// vifd: hooks/xen/vif-vifd asking vifd's real daemon (src/daemon/daemon.ts,
// in this process, on a control socket of its own, never /run/vifd), which
// plugs the netback device through its engine and writes nothing to xenstore
// itself (the hook writes hotplug-status). Baseline: Xen's own vif-openvswitch
// (Debian xen-utils-common). Both are run by the test harness's toolstack
// stand-in with libxl's exact argv and environment against the simulated
// xenstore and the same Open vSwitch: the bench's own private host
// (bench/private-host.ts: a network namespace with its own ovsdb-server and
// ovs-vswitchd, which vif-openvswitch's ovs-vsctl finds through OVS_RUNDIR),
// so no vifd running on the machine sees, or removes, the bench's ports.
// Separately labelled: the hook's own overhead (vif-vifd against a stub
// daemon that answers at once, no switch work), a floor for vifd's figure.
// Run as root with Open vSwitch installed: `node dist/bench/xen-hotplug.bench.js`
// (VIFD_BENCH_XEN_PORTS, default 1000; VIFD_BENCH_XEN_RUNS, default 5).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ControlServer } from '../src/api/control-server.js';
import type { HostConfig } from '../src/config/schema.js';
import { Daemon } from '../src/daemon/daemon.js';
import { byName } from '../src/host/ovsdb/operations.js';
import type { Operation } from '../src/host/ovsdb/operations.js';
import { OvsdbClient } from '../src/host/ovsdb/client.js';
import { PORT_MONITOR } from '../src/host/ovsdb/ports.js';
import { namedUuid, set } from '../src/host/ovsdb/datum.js';
import { TapDevices } from '../src/host/tap.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../src/model/mac.js';
import { XEN_HOTPLUG_METHOD } from '../src/sources/xen-hotplug/protocol.js';
import { SIM_BIN_DIR, SimXenStore } from '../test/harness/xen/store.js';
import { XenToolstackStandIn, makeScriptDir, removeScriptDir, renderVifVifd } from '../test/harness/xen/toolstack.js';
import type { StandInDomain } from '../test/harness/xen/toolstack.js';
import { runOnPrivateHost } from './private-host.js';
import type { PrivateHost } from './private-host.js';

const run = promisify(execFile);
const XEN_SCRIPTS = '/etc/xen/scripts';
const BRIDGE = 'vifdxenbench0';
const FILLER_PORTS = Number(process.env.VIFD_BENCH_XEN_PORTS ?? 1000);
const RUNS = Number(process.env.VIFD_BENCH_XEN_RUNS ?? 5);
const VLAN = 100;
const UUID = '5d2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d42';
const quiet = { error: (line: string) => { console.error(line); }, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** Debian's xen-utils-common only installs Xen's scripts (no hypervisor, nothing started). */
async function ensureXenScripts(): Promise<void> {
  if (existsSync(join(XEN_SCRIPTS, 'vif-openvswitch'))) return;
  console.error('xen-hotplug bench: installing xen-utils-common for Xen\'s vif-openvswitch');
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'xen-utils-common'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
}

/**
 * Xen's scripts put their own bindir (/usr/bin) first on PATH, where
 * xenstore-utils' real programs (which need xenstored) would shadow the
 * simulated ones. So they run from a private directory of symlinks to the
 * installed scripts, unchanged, except hotplugpath.sh, copied with `bindir`
 * pointing at the simulated xenstore programs.
 */
function privateScriptDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vifd-xen-scripts-'));
  for (const name of readdirSync(XEN_SCRIPTS)) {
    if (name !== 'hotplugpath.sh') symlinkSync(join(XEN_SCRIPTS, name), join(dir, name));
  }
  const paths = readFileSync(join(XEN_SCRIPTS, 'hotplugpath.sh'), 'utf8');
  if (!/^bindir=".*"$/m.test(paths)) throw new Error(`${XEN_SCRIPTS}/hotplugpath.sh has no bindir line`);
  writeFileSync(join(dir, 'hotplugpath.sh'), paths.replace(/^bindir=".*"$/m, `bindir="${SIM_BIN_DIR}"`));
  return dir;
}

/** 1,000 TAPs as ports (VLAN-tagged like VIFs) in one transaction, applied by ovs-vswitchd. No owner marker: no vifd's GC touches them. */
async function fillBridge(client: OvsdbClient, taps: TapDevices, names: readonly string[]): Promise<void> {
  for (const name of names) taps.ensure({ name });
  const operations: Operation[] = names.flatMap((name, index) => [
    { op: 'insert', table: 'Interface', 'uuid-name': `i${index}`, row: { name } },
    { op: 'insert', table: 'Port', 'uuid-name': `p${index}`, row: { name, interfaces: namedUuid(`i${index}`), tag: 200 + (index % 100) } },
  ] as Operation[]);
  operations.push({ op: 'mutate', table: 'Bridge', where: [byName(BRIDGE)], mutations: [['ports', 'insert', set(names.map((_, index) => namedUuid(`p${index}`)))]] });
  await client.commit(operations, { waitForVswitchd: true, timeoutMs: 300_000 });
}

interface PlugOutcome {
  readonly ms: number;
  readonly domain: StandInDomain;
  /** Why a VIF did not reach hotplug-status=connected (libxl kills a script after 40 s, as the stand-in does); empty when all did. */
  readonly failures: readonly string[];
}

/** Starts every VIF of a fresh domain at once, as libxl does; the time until the last script has exited. */
async function plugAll(standIn: XenToolstackStandIn, vifCount: number): Promise<PlugOutcome> {
  const domain = standIn.createDomain({
    toolstack: 'libxl', uuid: UUID, name: 'bench-vm',
    vifs: Array.from({ length: vifCount }, (_, devid) => ({ devid, mac: `00:16:3e:00:10:${devid.toString(16).padStart(2, '0')}`, bridge: `${BRIDGE}.${VLAN}` })),
  });
  const started = performance.now();
  const runs = await Promise.all(domain.vifs.map((vif) => standIn.run(domain, vif.devid, 'online', 'vif')));
  const ms = performance.now() - started;
  const failures: string[] = [];
  for (const [devid, result] of runs.entries()) {
    const status = standIn.store.read(`backend/vif/${domain.domid}/${devid}/hotplug-status`);
    if (result.code !== 0 || status !== 'connected') {
      const how = result.code === null ? `killed after ${Math.round(result.ms)} ms` : `exit ${result.code}`;
      failures.push(`vif${domain.domid}.${devid}: ${how}, hotplug-status ${String(status)}${result.stderr.trim() === '' ? '' : `: ${result.stderr.trim()}`}`);
    }
  }
  return { ms, domain, failures };
}

async function unplugAll(standIn: XenToolstackStandIn, domain: StandInDomain): Promise<void> {
  await Promise.all(domain.vifs.map((vif) => standIn.run(domain, vif.devid, 'offline', 'vif')));
  standIn.destroyDomain(domain);
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const round = (value: number): number => Math.round(value * 10) / 10;

interface Measured {
  /** Wall times of the runs in which every VIF connected. */
  readonly ms: number[];
  readonly failures: string[];
}

async function measure(standIn: XenToolstackStandIn, vifCount: number, vsctl: PrivateHost['vsctl'] | null): Promise<Measured> {
  const measured: Measured = { ms: [], failures: [] };
  for (let attempt = 0; attempt < RUNS; attempt += 1) {
    const { ms, domain, failures } = await plugAll(standIn, vifCount);
    // The first good run of a script that plugs proves it plugged: the port carries the VLAN.
    if (vsctl !== null && failures.length === 0 && measured.ms.length === 0) {
      const tag = (await vsctl('get', 'Port', `vif${domain.domid}.0`, 'tag')).trim();
      if (tag !== String(VLAN)) throw new Error(`${standIn.script} left vif${domain.domid}.0 with tag ${tag}, not ${VLAN}`);
    }
    if (failures.length === 0) measured.ms.push(ms);
    else measured.failures.push(...failures);
    await unplugAll(standIn, domain);
  }
  return measured;
}

/** The one ovs-vsctl call vif-openvswitch makes, alone, on the same bridge at the same time: how much of the script is OVS. */
async function vsctlAlone(taps: TapDevices, vsctl: PrivateHost['vsctl']): Promise<number[]> {
  const name = 'vxfprobe';
  const times: number[] = [];
  taps.ensure({ name });
  try {
    for (let attempt = 0; attempt < RUNS; attempt += 1) {
      const started = performance.now();
      await vsctl('--', '--if-exists', 'del-port', name, '--', 'add-port', BRIDGE, name, `tag=${VLAN}`);
      times.push(performance.now() - started);
      await vsctl('--if-exists', 'del-port', name);
    }
  } finally {
    taps.delete(name);
  }
  return times;
}

/** vifd's real daemon, in this process, on a control socket of its own and the private host's switch. */
async function startVifd(host: PrivateHost, dir: string): Promise<{ readonly daemon: Daemon; readonly socket: string }> {
  const socket = join(dir, 'vifd-daemon.sock');
  const config: HostConfig = {
    hypervisor: 'xen', macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 },
    ovsdb: { socket: host.ovs.socket }, libvirt: { uri: 'test:///default' }, controlSocket: socket,
    stateDir: join(dir, 'state'), metrics: { listen: { host: '127.0.0.1', port: 0 } }, log: { level: 'error' }, networks: new Map(),
  };
  return { daemon: await Daemon.start(config, quiet), socket };
}

const medianOf = (measured: Measured): number | null => (measured.ms.length === 0 ? null : round(median(measured.ms)));

function row(vifCount: number, baseline: Measured, vifd: Measured, hook: Measured): Record<string, unknown> {
  const [baselineMs, vifdMs] = [medianOf(baseline), medianOf(vifd)];
  return {
    bench: 'xen-hotplug', ports_on_bridge: FILLER_PORTS, vifs_started_at_once: vifCount, runs: RUNS,
    measured: 'script start to hotplug-status=connected (all VIFs of the VM)',
    baseline: 'xen vif-openvswitch (xen-utils-common), libxl argv/env, simulated xenstore, the private host\'s OVS',
    baseline_ms: baselineMs, baseline_ms_runs: baseline.ms.map(round), baseline_failures: baseline.failures,
    vifd: 'hooks/xen/vif-vifd asking vifd\'s daemon (in process, own control socket), same argv/env, store and OVS',
    vifd_ms: vifdMs, vifd_ms_runs: vifd.ms.map(round), vifd_failures: vifd.failures,
    // Above 1: vifd connects the VM's VIFs that many times sooner than vif-openvswitch.
    ratio_baseline_over_vifd: baselineMs === null || vifdMs === null || vifdMs === 0 ? null : round(baselineMs / vifdMs),
    hook_overhead_ms: medianOf(hook), hook_overhead_ms_runs: hook.ms.map(round), hook_failures: hook.failures,
    hook_overhead: 'hooks/xen/vif-vifd against a stub daemon answering at once: no switch work; a floor for vifd, not its figure',
    load_average_1m: round(loadavg()[0] ?? 0),
  };
}

async function onPrivateHost(host: PrivateHost): Promise<void> {
  const store = SimXenStore.create();
  const scripts = privateScriptDir();
  const hookDir = makeScriptDir();
  const stubSocket = join(hookDir, 'stub.sock');
  const stub = await ControlServer.listen(stubSocket, { [XEN_HOTPLUG_METHOD]: () => Promise.resolve({ outcome: 'plugged' }) });
  const script = renderVifVifd(hookDir);
  // vif-openvswitch's ovs-vsctl takes no --db: OVS_RUNDIR points it at the private server's db.sock.
  const baseline = new XenToolstackStandIn(store, join(scripts, 'vif-openvswitch'), { OVS_RUNDIR: dirname(host.ovs.socket) });
  const hook = new XenToolstackStandIn(store, script, { VIFD_SOCKET: stubSocket });
  const client = new OvsdbClient({ socketPath: host.ovs.socket, monitor: PORT_MONITOR });
  const taps = new TapDevices();
  const fillers = Array.from({ length: FILLER_PORTS }, (_, index) => `vxf${index}`);
  const vsctl = (...args: string[]): Promise<string> => host.vsctl(...args);
  let vifd: Awaited<ReturnType<typeof startVifd>> | null = null;
  let withVifd: XenToolstackStandIn | null = null;
  try {
    await client.start();
    await host.freshBridge(BRIDGE);
    await fillBridge(client, taps, fillers);
    vifd = await startVifd(host, hookDir);
    withVifd = new XenToolstackStandIn(store, script, { VIFD_SOCKET: vifd.socket });
    const vsctlMs = await vsctlAlone(taps, vsctl);
    console.log(JSON.stringify({
      bench: 'xen-hotplug-reference', ports_on_bridge: FILLER_PORTS, measured: "vif-openvswitch's ovs-vsctl del-port/add-port call alone, waiting for ovs-vswitchd",
      ovs_vsctl_ms: round(median(vsctlMs)), ovs_vsctl_ms_runs: vsctlMs.map(round), load_average_1m: round(loadavg()[0] ?? 0),
    }));
    for (const vifCount of [1, 7]) {
      const baselineRuns = await measure(baseline, vifCount, vsctl);
      const vifdRuns = await measure(withVifd, vifCount, vsctl);
      const hookRuns = await measure(hook, vifCount, null);
      console.log(JSON.stringify(row(vifCount, baselineRuns, vifdRuns, hookRuns)));
    }
  } finally {
    baseline.close();
    hook.close();
    withVifd?.close();
    await vifd?.daemon.stop();
    client.close();
    await stub.close();
    for (const name of fillers) taps.delete(name);
    taps.close();
    store.destroy();
    rmSync(scripts, { recursive: true, force: true });
    removeScriptDir(hookDir);
  }
}

if (process.getuid?.() !== 0) throw new Error('xen-hotplug bench: needs root (TAPs, Open vSwitch, a network namespace)');
// Outside the namespace, where the package mirror is reachable; inside, the scripts are there already.
await ensureXenScripts();
await runOnPrivateHost(import.meta.url, onPrivateHost);
