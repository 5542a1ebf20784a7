// vifd's own CPU per plug of one VM with 7 VIFs, with 1,000 and then 8,000
// vifd-owned ports already on the bridge: does the work vifd does for one VM
// grow with the host? Measured with process.cpuUsage (user + system) in this
// process, which runs all of vifd's code for the plug: the monitor updates
// parsed and applied to the replica and the owned-port index, the planning,
// the TAP ioctls, the transaction. Target: 8,000 ports cost <= 1.2x 1,000.
//
// The level measured: the engine's prepare, as the hook socket calls it
// (Engine.prepare with a VM intent of 7 TAP VIFs): planning with the MAC
// users from the owned-port index, the TAP-on-OVS kind's scoped look at the
// VM (OwnedPortView.ofVm, TapDevices.listKnown), its diff, the TAP ioctls and
// the batched port transaction, waited until ovs-vswitchd applied it; the
// release after each sample is not counted.
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
// Runs on a private host (bench/private-host.ts). Root and Open vSwitch;
// VIFD_BENCH_SCALE_SIZES (default 1000,8000), VIFD_BENCH_SCALE_ITERATIONS (default 20).
import { randomUUID } from 'node:crypto';
import { OvsdbClient } from '../src/host/ovsdb/client.js';
import { PortWriter } from '../src/host/ovsdb/port-writer.js';
import { validateConfig } from '../src/config/schema.js';
import { hostEffectors } from '../src/daemon/host-effectors.js';
import { Engine } from '../src/engine/engine.js';
import { OwnedPortIndex, PORT_MONITOR, planEnsurePort, vifExternalIds } from '../src/host/ovsdb/ports.js';
import type { VmSource } from '../src/model/contracts.js';
import type { VmIntent } from '../src/model/vm-intent.js';
import type { VifPortSpec } from '../src/host/ovsdb/ports.js';
import { TapDevices } from '../src/host/tap.js';
import { KVM_MAC_PREFIX, deterministicMac, parseMacPrefix } from '../src/model/mac.js';
import { deviceName } from '../src/model/names.js';
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

/** One VM's plug through the engine, and its release. */
function engineOn(context: Context): Engine {
  const settings = validateConfig({ networks: { bench: { bridge: BRIDGE, vlan: 100, mtu: 1500 } } });
  const source: VmSource = { list: () => Promise.resolve([]), get: () => Promise.resolve(null) };
  return new Engine({ settings, source, log: quiet, host: hostEffectors(context.taps, context.writer, context.client) });
}

const quiet = { error: (message: string) => { console.error(message); }, warn: () => undefined, info: () => undefined, debug: () => undefined };

function intentOf(vmUuid: string): VmIntent {
  return { uuid: vmUuid, name: 'bench-vm', others: [], vifs: Array.from({ length: VIFS }, (_, index) => ({ index, kind: 'tap', network: 'bench' })) };
}

interface Sample { readonly cpuMs: number; readonly wallMs: number }

async function measure(engine: Engine, intent: VmIntent): Promise<Sample> {
  const [cpu, wall] = [process.cpuUsage(), performance.now()];
  const verdict = await engine.prepare({ read: () => Promise.resolve({ intent }) });
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - wall;
  if (verdict.vifs.length !== VIFS) throw new Error(`prepared ${verdict.vifs.length} VIFs`);
  await engine.release(() => Promise.resolve({ uuid: intent.uuid, name: intent.name }));
  return { cpuMs: (used.user + used.system) / 1000, wallMs };
}

function report(size: number, samples: readonly Sample[], reread: number): Record<string, unknown> {
  const cpu = samples.map((sample) => sample.cpuMs);
  const wall = samples.map((sample) => sample.wallMs);
  return {
    bench: 'owned-ports-scale', vifs: VIFS, owned_ports_on_bridge: size, iterations: samples.length,
    cpu_p50_ms: percentile(cpu, 50), cpu_p90_ms: percentile(cpu, 90), cpu_mean_ms: round(cpu.reduce((a, b) => a + b, 0) / cpu.length, 100),
    wall_p50_ms: percentile(wall, 50), wall_p90_ms: percentile(wall, 90),
    index_ports_reread_per_plug_and_unplug: round(reread / samples.length, 10),
    level: 'Engine.prepare (TAP-on-OVS kind, owned-port index, batched port writer)', background: 'tap-devices+owned-rows, interface type patch',
  };
}

async function main(host: PrivateHost): Promise<void> {
  const client = new OvsdbClient({ socketPath: host.ovs.socket, monitor: PORT_MONITOR });
  await client.start();
  const context: Context = { client, writer: new PortWriter(client, { timeoutMs: 600_000 }), taps: new TapDevices() };
  const background: Vif[] = [];
  const vm = intentOf(randomUUID());
  const engine = engineOn(context);
  const lines: Record<string, unknown>[] = [];
  try {
    await host.freshBridge(BRIDGE);
    await client.waitUntil(() => client.replica.byName('Bridge', BRIDGE) !== undefined, 30_000, 'the bridge');
    for (const size of SIZES) {
      await fillTo(context, size, background);
      for (let i = 0; i < WARMUP; i++) await measure(engine, vm);
      const reread = OwnedPortIndex.of(client.replica).refreshed;
      const samples: Sample[] = [];
      for (let i = 0; i < ITERATIONS; i++) samples.push(await measure(engine, vm));
      // Plug and unplug both count: each re-reads the 7 ports it touched, nothing else.
      const line = report(size, samples, OwnedPortIndex.of(client.replica).refreshed - reread);
      lines.push(line);
      console.log(JSON.stringify(line));
    }
  } finally {
    await host.vsctl('--if-exists', 'del-br', BRIDGE);
    for (const vif of background) context.taps.delete(vif.device);
    await engine.release(() => Promise.resolve({ uuid: vm.uuid, name: vm.name }));
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
    }));
  }
}

await runOnPrivateHost(import.meta.url, main);
