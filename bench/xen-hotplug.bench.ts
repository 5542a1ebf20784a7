// The Xen vif hotplug row of `make bench`: how long a VIF takes from the
// hotplug script's start to `hotplug-status=connected`, on a bridge that
// already holds 1,000 ports, for 1 VIF and for a VM's 7 VIFs started at once.
// Baseline: Xen's own vif-openvswitch (Debian xen-utils-common), run by the
// test harness's toolstack stand-in with libxl's exact argv and environment
// against the simulated xenstore and the host's real Open vSwitch.
// vifd's figure needs the daemon's xen-hotplug handler; until it exists the
// row says so (`vifd: null` with the reason) rather than carrying a number.
// Separately labelled: the hook's own overhead (vif-vifd against a stub
// daemon that answers at once, no switch work), a floor for vifd's figure.
// Run as root with Open vSwitch up: `node dist/bench/xen-hotplug.bench.js`.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ControlServer } from '../src/api/control-server.js';
import { byName } from '../src/host/ovsdb/operations.js';
import type { Operation } from '../src/host/ovsdb/operations.js';
import { OvsdbClient } from '../src/host/ovsdb/client.js';
import { PORT_MONITOR } from '../src/host/ovsdb/ports.js';
import { namedUuid, set } from '../src/host/ovsdb/datum.js';
import { TapDevices } from '../src/host/tap.js';
import { XEN_HOTPLUG_METHOD } from '../src/sources/xen-hotplug/protocol.js';
import { SIM_BIN_DIR, SimXenStore } from '../test/harness/xen/store.js';
import { XenToolstackStandIn, makeScriptDir, removeScriptDir, renderVifVifd } from '../test/harness/xen/toolstack.js';
import type { StandInDomain } from '../test/harness/xen/toolstack.js';

const run = promisify(execFile);
const XEN_SCRIPTS = '/etc/xen/scripts';
const BRIDGE = 'vifdxenbench0';
const FILLER_PORTS = Number(process.env.VIFD_BENCH_XEN_PORTS ?? 1000);
const RUNS = Number(process.env.VIFD_BENCH_XEN_RUNS ?? 5);
const VLAN = 100;
const UUID = '5d2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d42';
const VIFD_NOT_YET = "the daemon's xen-hotplug handler (netback VIF kind) does not exist yet; it depends on the engine redesign";

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

async function freshBridge(): Promise<void> {
  await run('ovs-vsctl', ['--timeout=120', '--if-exists', 'del-br', BRIDGE]);
  const datapath = existsSync('/sys/module/openvswitch') ? 'system' : 'netdev';
  await run('ovs-vsctl', ['--timeout=60', 'add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, `datapath_type=${datapath}`]);
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

async function measure(standIn: XenToolstackStandIn, vifCount: number, checkTag: boolean): Promise<Measured> {
  const measured: Measured = { ms: [], failures: [] };
  for (let attempt = 0; attempt < RUNS; attempt += 1) {
    const { ms, domain, failures } = await plugAll(standIn, vifCount);
    if (checkTag && failures.length === 0 && measured.ms.length === 0) {
      const tag = (await run('ovs-vsctl', ['--timeout=60', 'get', 'Port', `vif${domain.domid}.0`, 'tag'])).stdout.trim();
      if (tag !== String(VLAN)) throw new Error(`${standIn.script} left vif${domain.domid}.0 with tag ${tag}, not ${VLAN}`);
    }
    if (failures.length === 0) measured.ms.push(ms);
    else measured.failures.push(...failures);
    await unplugAll(standIn, domain);
  }
  return measured;
}

/** The one ovs-vsctl call vif-openvswitch makes, alone, on the same bridge at the same time: how much of the script is OVS. */
async function vsctlAlone(taps: TapDevices): Promise<number[]> {
  const name = 'vxfprobe';
  const times: number[] = [];
  taps.ensure({ name });
  try {
    for (let attempt = 0; attempt < RUNS; attempt += 1) {
      const started = performance.now();
      await run('ovs-vsctl', ['--timeout=30', '--', '--if-exists', 'del-port', name, '--', 'add-port', BRIDGE, name, `tag=${VLAN}`]);
      times.push(performance.now() - started);
      await run('ovs-vsctl', ['--timeout=60', '--if-exists', 'del-port', name]);
    }
  } finally {
    taps.delete(name);
  }
  return times;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('xen-hotplug bench: needs root (TAPs, Open vSwitch)');
  await ensureXenScripts();
  const store = SimXenStore.create();
  const scripts = privateScriptDir();
  const hookDir = makeScriptDir();
  const socket = join(hookDir, 'vifd.sock');
  const stub = await ControlServer.listen(socket, { [XEN_HOTPLUG_METHOD]: () => Promise.resolve({ outcome: 'plugged' }) });
  const baseline = new XenToolstackStandIn(store, join(scripts, 'vif-openvswitch'));
  const hook = new XenToolstackStandIn(store, renderVifVifd(hookDir), { VIFD_SOCKET: socket });
  const client = new OvsdbClient({ monitor: PORT_MONITOR });
  const taps = new TapDevices();
  const fillers = Array.from({ length: FILLER_PORTS }, (_, index) => `vxf${index}`);
  try {
    await client.start();
    await freshBridge();
    await fillBridge(client, taps, fillers);
    const vsctlMs = await vsctlAlone(taps);
    console.log(JSON.stringify({
      bench: 'xen-hotplug-reference', ports_on_bridge: FILLER_PORTS, measured: "vif-openvswitch's ovs-vsctl del-port/add-port call alone, waiting for ovs-vswitchd",
      ovs_vsctl_ms: round(median(vsctlMs)), ovs_vsctl_ms_runs: vsctlMs.map(round), load_average_1m: round(loadavg()[0] ?? 0),
    }));
    for (const vifCount of [1, 7]) {
      const baselineRuns = await measure(baseline, vifCount, true);
      const hookRuns = await measure(hook, vifCount, false);
      const baselineMs = baselineRuns.ms;
      const hookMs = hookRuns.ms;
      console.log(JSON.stringify({
        bench: 'xen-hotplug', ports_on_bridge: FILLER_PORTS, vifs_started_at_once: vifCount, runs: RUNS,
        measured: 'script start to hotplug-status=connected (all VIFs of the VM)',
        baseline: 'xen vif-openvswitch (xen-utils-common), libxl argv/env, simulated xenstore, real OVS',
        baseline_ms: baselineMs.length === 0 ? null : round(median(baselineMs)), baseline_ms_runs: baselineMs.map(round),
        baseline_failures: baselineRuns.failures,
        vifd: null, vifd_reason: VIFD_NOT_YET, ratio: null,
        hook_overhead_ms: hookMs.length === 0 ? null : round(median(hookMs)), hook_overhead_ms_runs: hookMs.map(round),
        hook_failures: hookRuns.failures,
        hook_overhead: 'hooks/xen/vif-vifd against a stub daemon answering at once: no switch work; a floor for vifd, not its figure',
        load_average_1m: round(loadavg()[0] ?? 0),
      }));
    }
  } finally {
    baseline.close();
    hook.close();
    client.close();
    await stub.close();
    await run('ovs-vsctl', ['--timeout=120', '--if-exists', 'del-br', BRIDGE]);
    for (const name of fillers) taps.delete(name);
    taps.close();
    store.destroy();
    rmSync(scripts, { recursive: true, force: true });
    removeScriptDir(hookDir);
  }
}

await main();
