// vifd's own CPU per plug of one VM with 7 VIFs, with 1,000 and then 8,000
// vifd-owned ports already on the bridge: does the work vifd does for one VM
// grow with the host? Measured with process.cpuUsage (user + system) in this
// process, which runs all of vifd's code for the plug: the monitor updates
// parsed and applied to the replica and the owned-port index, the planning,
// the TAP ioctls, the transaction. Target: 8,000 ports cost <= 1.2x 1,000.
//
// The level measured: host/ovsdb + host/tap as the engine uses them (the
// engine's API is being rewritten; switch this to the engine once it lands).
// One plug = look up the VM's owned ports (OwnedPortView.ofVm) and its TAPs
// (TapDevices.list by the VM's device prefix), look up each MAC's users
// (macUsers), ensure 7 TAPs, 7 PortWriter.ensure calls (planEnsurePort, one
// batched transaction, waited until ovs-vswitchd applied it), then diffPort
// of each port from the index, as status does.
//
// The background ports are honest for what is measured, and bearable: each is
// a real TAP device in this namespace (so sysfs listings are as large as on a
// real host) and real vifd-owned Port and Interface rows with every column
// vifd writes on the same bridge (so the replica, the index, the Bridge.ports
// set every update carries and the monitor traffic are a real host's), but
// their Interface type is "patch" with no peer: ovs-vswitchd opens no device
// for them. That spares only ovs-vswitchd's own per-device work (about 30 s
// per reconfigure at 4,000 TAPs on this 2-core machine), which is not vifd's
// CPU; the 7 measured ports are ordinary TAPs that ovs-vswitchd opens.
// Each line also splits the CPU by part (index lookups, TapDevices.list, TAP
// ioctls, the port transaction with its monitor updates, diffPort) and gives
// the ratio without the TAP listing, which reads every link name in sysfs.
// Runs on a private host (bench/private-host.ts). Root and Open vSwitch;
// VIFD_BENCH_SCALE_SIZES (default 1000,8000), VIFD_BENCH_SCALE_ITERATIONS (default 20).
import { randomUUID } from 'node:crypto';
import { OvsdbClient } from '../src/host/ovsdb/client.js';
import { PortWriter } from '../src/host/ovsdb/port-writer.js';
import { OwnedPortIndex, PORT_MONITOR, diffPort, planEnsurePort, vifExternalIds } from '../src/host/ovsdb/ports.js';
import type { VifPortSpec } from '../src/host/ovsdb/ports.js';
import { TapDevices } from '../src/host/tap.js';
import { KVM_MAC_PREFIX, deterministicMac, parseMacPrefix } from '../src/model/mac.js';
import { deviceName, deviceNamePrefix } from '../src/model/names.js';
import { validateVlanSettings } from '../src/model/vlan.js';
import { runOnPrivateHost } from './private-host.js';
import type { PrivateHost } from './private-host.js';
import { percentile, round } from './stats.js';

const SIZES = (process.env.VIFD_BENCH_SCALE_SIZES ?? '1000,8000').split(',').map(Number);
const ITERATIONS = Number(process.env.VIFD_BENCH_SCALE_ITERATIONS ?? 20);
const WARMUP = 3;
const VIFS = 7;
const BRIDGE = 'vifdbenchscale';
const TARGET_RATIO = 1.2;
const prefix = parseMacPrefix(KVM_MAC_PREFIX);

interface Vif { readonly vmUuid: string; readonly index: number; readonly device: string; readonly mac: string }

function vmVifs(vmUuid: string): Vif[] {
  return Array.from({ length: VIFS }, (_, index) => ({ vmUuid, index, device: deviceName(vmUuid, index), mac: deterministicMac({ vmUuid, index, prefix }).mac }));
}

/** What the engine asks for a TAP VIF on network "bench" (VLAN 100, MTU 1500). */
function portSpec(vif: Vif, interfaceType = ''): VifPortSpec {
  return {
    bridge: BRIDGE, name: vif.device, interfaceType, vlan: validateVlanSettings({ tag: 100 }), mtuRequest: 1500,
    externalIds: { ...vifExternalIds(vif), 'vifd:network': 'bench' },
  };
}

const tapAlias = (vif: Vif): string => `vifd:${vif.vmUuid}/${vif.index}`;

interface Context { readonly client: OvsdbClient; readonly writer: PortWriter; readonly taps: TapDevices }

/** Other VMs' VIFs until the bridge holds `size` owned ports: TAPs by ioctl, rows in transactions of 1,000. */
async function fillTo(context: Context, size: number, background: Vif[]): Promise<void> {
  while (background.length < size) {
    const chunk: Vif[] = [];
    while (chunk.length < Math.min(1000, size - background.length)) chunk.push(...vmVifs(randomUUID()).slice(0, Math.min(1000, size - background.length) - chunk.length));
    for (const vif of chunk) context.taps.ensure({ name: vif.device, mac: `fe${vif.mac.slice(2)}`, alias: tapAlias(vif) });
    background.push(...chunk);
    const operations = chunk.flatMap((vif) => planEnsurePort(portSpec(vif, 'patch'), context.client.replica));
    await context.client.commit(operations, { waitForVswitchd: true, timeoutMs: 600_000 });
  }
}

/** CPU ms (user + system) of this process in each part of the last plug. */
const parts = { index_lookups: 0, tap_list: 0, taps: 0, ports: 0, status: 0 };
const cpuMs = (since: NodeJS.CpuUsage): number => { const used = process.cpuUsage(since); return (used.user + used.system) / 1000; };

/** One VM's plug, as the engine will do it over host/ovsdb + host/tap. */
async function plug(context: Context, vifs: readonly Vif[]): Promise<void> {
  let mark = process.cpuUsage();
  const view = context.client.ownedPorts;
  const [vmUuid] = [vifs[0]?.vmUuid ?? ''];
  const devicePrefix = deviceNamePrefix(vmUuid);
  const ports = view.ofVm(vmUuid);
  for (const vif of vifs) {
    if (view.macUsers(vif.mac).some((user) => user !== vmUuid)) throw new Error(`MAC ${vif.mac} taken`);
  }
  parts.index_lookups = cpuMs(mark);
  mark = process.cpuUsage();
  const taps = context.taps.list((name) => name.startsWith(devicePrefix));
  if (ports.length + taps.length !== 0) throw new Error(`VM ${vmUuid} is not unplugged: ${ports.length} ports, ${taps.length} TAPs`);
  parts.tap_list = cpuMs(mark);
  mark = process.cpuUsage();
  for (const vif of vifs) context.taps.ensure({ name: vif.device, mac: `fe${vif.mac.slice(2)}`, mtu: 1500, up: true, alias: tapAlias(vif) });
  parts.taps = cpuMs(mark);
  mark = process.cpuUsage();
  await Promise.all(vifs.map((vif) => context.writer.ensure(portSpec(vif))));
  parts.ports = cpuMs(mark);
  mark = process.cpuUsage();
  for (const vif of vifs) {
    const port = view.byName(vif.device);
    if (port === undefined || diffPort(portSpec(vif), port).length !== 0) throw new Error(`${vif.device} not as planned after the plug`);
  }
  parts.status = cpuMs(mark);
}

async function unplug(context: Context, vifs: readonly Vif[]): Promise<void> {
  await Promise.all(vifs.map((vif) => context.writer.remove(vif.device)));
  for (const vif of vifs) context.taps.delete(vif.device);
}

interface Sample { readonly cpuMs: number; readonly wallMs: number; readonly parts: typeof parts }

async function measure(context: Context, vifs: readonly Vif[]): Promise<Sample> {
  const [cpu, wall] = [process.cpuUsage(), performance.now()];
  await plug(context, vifs);
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - wall;
  await unplug(context, vifs);
  return { cpuMs: (used.user + used.system) / 1000, wallMs, parts: { ...parts } };
}

function report(size: number, samples: readonly Sample[], reread: number): Record<string, unknown> {
  const cpu = samples.map((sample) => sample.cpuMs);
  const wall = samples.map((sample) => sample.wallMs);
  return {
    bench: 'owned-ports-scale', vifs: VIFS, owned_ports_on_bridge: size, iterations: samples.length,
    cpu_p50_ms: percentile(cpu, 50), cpu_p90_ms: percentile(cpu, 90), cpu_mean_ms: round(cpu.reduce((a, b) => a + b, 0) / cpu.length, 100),
    wall_p50_ms: percentile(wall, 50), wall_p90_ms: percentile(wall, 90),
    ...Object.fromEntries(Object.keys(parts).map((part) => [`cpu_${part}_p50_ms`, percentile(samples.map((sample) => sample.parts[part as keyof typeof parts]), 50)])),
    index_ports_reread_per_plug_and_unplug: round(reread / samples.length, 10),
    level: 'host/ovsdb+host/tap (engine API being rewritten)', background: 'tap-devices+owned-rows, interface type patch',
  };
}

async function main(host: PrivateHost): Promise<void> {
  const client = new OvsdbClient({ socketPath: host.ovs.socket, monitor: PORT_MONITOR });
  await client.start();
  const context: Context = { client, writer: new PortWriter(client, { timeoutMs: 600_000 }), taps: new TapDevices() };
  const background: Vif[] = [];
  const vm = vmVifs(randomUUID());
  const lines: Record<string, unknown>[] = [];
  try {
    await host.freshBridge(BRIDGE);
    await client.waitUntil(() => client.replica.byName('Bridge', BRIDGE) !== undefined, 30_000, 'the bridge');
    for (const size of SIZES) {
      await fillTo(context, size, background);
      for (let i = 0; i < WARMUP; i++) await measure(context, vm);
      const reread = OwnedPortIndex.of(client.replica).refreshed;
      const samples: Sample[] = [];
      for (let i = 0; i < ITERATIONS; i++) samples.push(await measure(context, vm));
      // Plug and unplug both count: each re-reads the 7 ports it touched, nothing else.
      const line = report(size, samples, OwnedPortIndex.of(client.replica).refreshed - reread);
      lines.push(line);
      console.log(JSON.stringify(line));
    }
  } finally {
    await host.vsctl('--if-exists', 'del-br', BRIDGE);
    for (const vif of [...background, ...vm]) context.taps.delete(vif.device);
    client.close();
    context.taps.close();
  }
  const [first, last] = [lines[0], lines[lines.length - 1]];
  if (first !== undefined && last !== undefined && first !== last) {
    const ratio = round(Number(last.cpu_p50_ms) / Number(first.cpu_p50_ms), 100);
    console.log(JSON.stringify({
      bench: 'owned-ports-scale-growth', from_ports: first.owned_ports_on_bridge, to_ports: last.owned_ports_on_bridge,
      cpu_p50_ms: [first.cpu_p50_ms, last.cpu_p50_ms], cpu_p90_ms: [first.cpu_p90_ms, last.cpu_p90_ms],
      [`ratio_${String(last.owned_ports_on_bridge)}_vs_${String(first.owned_ports_on_bridge)}`]: ratio,
      target: TARGET_RATIO, ok: ratio <= TARGET_RATIO,
      // TapDevices.list by prefix reads every link name in sysfs: host/tap's share, shown apart.
      ratio_without_tap_list: round((Number(last.cpu_p50_ms) - Number(last.cpu_tap_list_p50_ms)) / (Number(first.cpu_p50_ms) - Number(first.cpu_tap_list_p50_ms)), 100),
    }));
  }
}

await runOnPrivateHost(import.meta.url, main);
