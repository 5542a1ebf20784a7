// Plug latency: how long libvirt's prepare waits for vifd to plug one VM with
// 7 VIFs on a bridge that already holds 1000 (then 4000) ports, measured side
// by side on the same switch, interleaved run by run:
//   floor     the same 7 TAPs by ioctl (src/host/tap.ts, the engine's own TAP and port specs) and ONE
//             OVSDB transaction adding the 7 ports, waited until ovs-vswitchd applied it (cur_cfg)
//   vifd      the engine's prepare (plan, TAPs, one batched transaction, applied by ovs-vswitchd)
//   hook      the hook as libvirt runs it now: hooks/qemu.d/vifd, nc to the hook socket, the engine behind it
//             (hook_engine: the engine's time inside that call; hook_own: the hook's wall time minus it)
//   hook_node the hook before: the same shim falling back to node's hook program over the control socket
//   baseline  libvirt's own way for bridge/openvswitch interfaces: per VIF a TAP, then one ovs-vsctl
// Prints one JSON line per bridge size with p50/p99 of each and the issue's
// targets (engine p99 <= 1.3x floor p99; hook p99 <= floor p99 + 40 ms), then
// one line comparing the sizes. It runs on a host of its own (bench/private-host.ts:
// a network namespace with a private ovsdb-server and ovs-vswitchd), so a vifd
// running on the machine cannot take its ports for orphans. Root and Open vSwitch: `make bench`
// (VIFD_BENCH_PLUG_ITERATIONS, default 40; VIFD_BENCH_PLUG_BRIDGE_PORTS, default 1000,4000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ControlServer } from '../src/api/control-server.js';
import { HookSocketServer, hookSocketPath } from '../src/api/hook-socket.js';
import { validateConfig } from '../src/config/schema.js';
import { controlHandlers, hookHandler } from '../src/daemon/handlers.js';
import { Engine } from '../src/engine/engine.js';
import { portSpec, tapSpec } from '../src/kinds/tap-ovs/specs.js';
import type { EngineLog } from '../src/engine/types.js';
import { OvsdbClient } from '../src/host/ovsdb/client.js';
import { PortWriter } from '../src/host/ovsdb/port-writer.js';
import { PORT_MONITOR, planEnsurePort, planRemovePort, vifExternalIds } from '../src/host/ovsdb/ports.js';
import { TapDevices } from '../src/host/tap.js';
import { parseDomainXml } from '../src/sources/libvirt/domain-xml.js';
import { planDomain } from '../src/sources/libvirt/intent.js';
import { prepareFromHook, releaseFromHook } from '../src/sources/libvirt/hook-requests.js';
import { hostEffectors } from '../src/daemon/host-effectors.js';
import { renderDomainInterfaces } from '../src/sources/libvirt/render.js';
import { validateVlanSettings } from '../src/model/vlan.js';
import { renderHookShim, runHookShim } from '../test/harness/hook-shim.js';
import { runOnPrivateHost } from './private-host.js';
import type { PrivateHost } from './private-host.js';
import { percentile, round, timedMs } from './stats.js';

const ITERATIONS = Number(process.env.VIFD_BENCH_PLUG_ITERATIONS ?? 40);
const BRIDGE_SIZES = (process.env.VIFD_BENCH_PLUG_BRIDGE_PORTS ?? '1000,4000').split(',').map(Number);
const VIFS = 7;
const BRIDGE = 'vifdbenchlat';
const VM_UUID = '0b6f1c8e-3d2a-4e5b-9c7d-8e9f0a1b2c3d';
const TEMPLATE = "<interface type='ethernet'><mac address='{{mac}}'/><target dev='{{device}}' managed='no'/><model type='virtio'/>{{mtu}}</interface>";
const ENGINE_P99_VS_FLOOR_TARGET = 1.3;
const HOOK_OVER_FLOOR_TARGET_MS = 40;
const quiet: EngineLog = { error: (m) => { console.error(m); }, warn: () => undefined, info: () => undefined, debug: () => undefined };

const config = validateConfig({ networks: { bench: { bridge: BRIDGE, vlan: 100 } } });

function domainXml(): string {
  const intent = `<metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">${'<vifd:vif network="bench"/>'.repeat(VIFS)}</vifd:vifd></metadata>`;
  const bare = `<domain type='kvm'><name>bench-vm</name><uuid>${VM_UUID}</uuid>${intent}<devices></devices></domain>`;
  const parsed = parseDomainXml(bare);
  return renderDomainInterfaces(bare, parsed, planDomain(parsed, config), TEMPLATE);
}

/** Ports of other VMs, each on its own TAP, until the bridge holds `size`, as on a busy host. */
async function fillTo(size: number, have: number, taps: TapDevices, writer: PortWriter): Promise<string[]> {
  const names = Array.from({ length: size - have }, (_, offset) => `vbl${have + offset}`);
  for (const name of names) taps.ensure({ name });
  await Promise.all(names.map((name, offset) => writer.ensure({
    bridge: BRIDGE, name, vlan: validateVlanSettings({ tag: 200 + ((have + offset) % 50) }),
    externalIds: vifExternalIds({ vmUuid: '11111111-2222-4333-8444-555555555555', index: (have + offset) % 1000, mac: '52:54:00:00:00:01' }),
  })));
  return names;
}

/** The floor: what the engine's prepare must do at least, done directly: the TAPs, then one transaction waited for. */
async function floorPlug(client: OvsdbClient, taps: TapDevices, xml: string): Promise<void> {
  const plan = planDomain(parseDomainXml(xml), config);
  const desired = plan.vifs.map((vif) => ({ ...vif, vmUuid: plan.vm.uuid, vmName: plan.vm.name }));
  for (const vif of desired) taps.ensure(tapSpec(vif));
  await client.commit(desired.flatMap((vif) => planEnsurePort(portSpec(vif), client.replica)), { waitForVswitchd: true, timeoutMs: 300_000 });
}

async function floorUnplug(client: OvsdbClient, taps: TapDevices, devices: readonly string[]): Promise<void> {
  await client.commit(devices.flatMap((name) => planRemovePort(name, client.replica)), { waitForVswitchd: true, timeoutMs: 300_000 });
  for (const name of devices) taps.delete(name);
}

async function baselinePlug(host: PrivateHost, taps: TapDevices, devices: readonly string[]): Promise<void> {
  for (const [index, name] of devices.entries()) {
    taps.ensure({ name });
    await host.vsctl('--', 'add-port', BRIDGE, name, '--', 'set', 'Port', name, 'tag=100',
      '--', 'set', 'Interface', name, `external_ids:vm-uuid="${VM_UUID}"`, `external_ids:iface-id="${VM_UUID}/${index}"`, 'external_ids:iface-status=active');
  }
}

interface Paths {
  readonly host: PrivateHost;
  readonly client: OvsdbClient;
  readonly taps: TapDevices;
  readonly engine: Engine;
  readonly shim: string;
  readonly hookSocketDir: string;
  readonly controlSocket: string;
  /** The engine's time inside the last fast-path hook call: the hook's own share is its wall time minus this. */
  readonly lastHookEngineMs: { value: number };
}

type Samples = Record<'floor' | 'vifd' | 'hook' | 'hook_engine' | 'hook_node' | 'baseline', number[]>;

async function hookPrepare(paths: Paths, xml: string, fastPath: boolean): Promise<void> {
  const env = { VIFD_HOOK_SOCKET_DIR: fastPath ? paths.hookSocketDir : join(paths.hookSocketDir, 'absent'), VIFD_SOCKET: paths.controlSocket };
  const result = await runHookShim(paths.shim, { domain: 'bench-vm', op: 'prepare', subop: 'begin' }, xml, env);
  if (result.code !== 0) throw new Error(`hook (${fastPath ? 'nc' : 'node'}): exit ${String(result.code)}: ${result.stderr}`);
}

/** One round of every path, each followed by its own unplug (not timed). */
async function oneRound(paths: Paths, xml: string, devices: readonly string[], samples: Samples): Promise<void> {
  const { client, taps, engine } = paths;
  samples.floor.push(await timedMs(() => floorPlug(client, taps, xml)));
  await floorUnplug(client, taps, devices);
  samples.vifd.push(await timedMs(() => engine.prepare(prepareFromHook(xml))));
  await engine.release(releaseFromHook(xml));
  const hookMs = await timedMs(() => hookPrepare(paths, xml, true));
  samples.hook.push(hookMs);
  samples.hook_engine.push(paths.lastHookEngineMs.value);
  await engine.release(releaseFromHook(xml));
  samples.hook_node.push(await timedMs(() => hookPrepare(paths, xml, false)));
  await engine.release(releaseFromHook(xml));
  samples.baseline.push(await timedMs(() => baselinePlug(paths.host, taps, devices)));
  await paths.host.vsctl(...devices.flatMap((name) => ['--', 'del-port', BRIDGE, name]));
  for (const name of devices) taps.delete(name);
}

function report(size: number, samples: Samples): Record<string, unknown> {
  const line: Record<string, unknown> = { bench: 'plug-latency', vifs: VIFS, bridge_ports: size, iterations: ITERATIONS };
  for (const [path, values] of Object.entries(samples)) {
    line[`${path}_p50_ms`] = percentile(values, 50);
    line[`${path}_p99_ms`] = percentile(values, 99);
  }
  const floorP99 = percentile(samples.floor, 99);
  const engineRatio = round(percentile(samples.vifd, 99) / floorP99, 100);
  const hookOver = round(percentile(samples.hook, 99) - floorP99, 100);
  const hookOwn = samples.hook.map((ms, index) => ms - (samples.hook_engine[index] ?? 0));
  return {
    ...line,
    floor: 'tap-ioctls+one-transaction-applied', baseline: 'tap+ovs-vsctl-per-vif',
    baseline_vs_vifd_p50: round(percentile(samples.baseline, 50) / percentile(samples.vifd, 50), 100),
    vifd_vs_floor_p50: round(percentile(samples.vifd, 50) / percentile(samples.floor, 50), 100),
    vifd_vs_floor_p99: engineRatio, vifd_vs_floor_p99_target: ENGINE_P99_VS_FLOOR_TARGET, vifd_ok: engineRatio <= ENGINE_P99_VS_FLOOR_TARGET,
    hook_vs_floor_p99: round(percentile(samples.hook, 99) / floorP99, 100),
    hook_minus_floor_p99_ms: hookOver, hook_minus_floor_p99_target_ms: HOOK_OVER_FLOOR_TARGET_MS, hook_ok: hookOver <= HOOK_OVER_FLOOR_TARGET_MS,
    hook_node_minus_floor_p99_ms: round(percentile(samples.hook_node, 99) - floorP99, 100),
    // The hook's own share, run by run: everything but the engine's prepare behind the socket.
    hook_own_p50_ms: percentile(hookOwn, 50), hook_own_p99_ms: percentile(hookOwn, 99), hook_own_p99_target_ms: HOOK_OVER_FLOOR_TARGET_MS,
    hook_own_ok: percentile(hookOwn, 99) <= HOOK_OVER_FLOOR_TARGET_MS,
  };
}

async function main(host: PrivateHost): Promise<void> {
  const client = new OvsdbClient({ socketPath: host.ovs.socket, monitor: PORT_MONITOR });
  await client.start();
  const taps = new TapDevices();
  const writer = new PortWriter(client, { timeoutMs: 300_000 });
  const engine = new Engine({
    settings: config, log: quiet,
    source: { list: () => Promise.resolve([]), get: () => Promise.resolve(null) },
    host: hostEffectors(taps, writer, client),
  });
  const dir = mkdtempSync(join(tmpdir(), 'vifd-bench-'));
  const paths: Paths = { host, client, taps, engine, shim: renderHookShim(dir), hookSocketDir: dir, controlSocket: join(dir, 'vifd.sock'), lastHookEngineMs: { value: 0 } };
  const control = await ControlServer.listen(paths.controlSocket, controlHandlers(engine, quiet));
  // The daemon's own wiring (the bench only prepares), timed inside.
  const decide = hookHandler(engine);
  const hook = await HookSocketServer.listen(hookSocketPath(dir, 'prepare'), 'prepare', async (op, xml) => {
    const started = performance.now();
    try {
      return await decide(op, xml);
    } finally {
      paths.lastHookEngineMs.value = performance.now() - started;
    }
  });
  const xml = domainXml();
  const devices = planDomain(parseDomainXml(xml), config).vifs.map((vif) => vif.device);
  const filler: string[] = [];
  const lines: Record<string, unknown>[] = [];
  try {
    await host.freshBridge(BRIDGE);
    for (const size of BRIDGE_SIZES) {
      filler.push(...await fillTo(size, filler.length, taps, writer));
      const samples: Samples = { floor: [], vifd: [], hook: [], hook_engine: [], hook_node: [], baseline: [] };
      for (let i = 0; i < ITERATIONS; i++) await oneRound(paths, xml, devices, samples);
      const line = report(size, samples);
      lines.push(line);
      console.log(JSON.stringify(line));
    }
  } finally {
    await hook.close();
    await control.close();
    rmSync(dir, { recursive: true, force: true });
    await host.vsctl('--if-exists', 'del-br', BRIDGE);
    for (const name of [...filler, ...devices]) taps.delete(name);
    client.close();
    taps.close();
  }
  printGrowth(lines);
}

/** Whether vifd's share (above the floor) grows with the host: compares the first and last bridge size. */
function printGrowth(lines: readonly Record<string, unknown>[]): void {
  const [first, last] = [lines[0], lines[lines.length - 1]];
  if (first === undefined || last === undefined || first === last) return;
  const above = (line: Record<string, unknown>, path: string): number => Number(line[`${path}_p99_ms`]) - Number(line.floor_p99_ms);
  console.log(JSON.stringify({
    bench: 'plug-latency-growth', from_ports: first.bridge_ports, to_ports: last.bridge_ports,
    floor_p99_ms: [first.floor_p99_ms, last.floor_p99_ms],
    vifd_above_floor_p99_ms: [round(above(first, 'vifd'), 100), round(above(last, 'vifd'), 100)],
    hook_above_floor_p99_ms: [round(above(first, 'hook'), 100), round(above(last, 'hook'), 100)],
    target: 'no growth beyond the floor\'s own',
  }));
}

await runOnPrivateHost(import.meta.url, main);
