// Bulk plug of N VIFs (TAP + OVS port with VLAN tag and external_ids, applied
// by ovs-vswitchd) through vifd's code, against the per-port ovs-vsctl baseline
// that libvirt and Xen's vif script use, side by side on the same switch, and
// against the floor: TAP creation alone + one OVSDB transaction alone. Prints
// one JSON line per measurement, then the targets with pass/fail.
// Run as root with Open vSwitch up: `make bench` (VIFD_BENCH_SIZES=100,500,2000).
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { OvsdbClient } from '../src/host/ovsdb/client.js';
import { PortWriter } from '../src/host/ovsdb/port-writer.js';
import { PORT_MONITOR, planEnsurePort, vifExternalIds } from '../src/host/ovsdb/ports.js';
import type { VifPortSpec } from '../src/host/ovsdb/ports.js';
import { TapDevices } from '../src/host/tap.js';
import { KVM_MAC_PREFIX, deterministicMac, parseMacPrefix } from '../src/model/mac.js';
import { validateVlanSettings } from '../src/model/vlan.js';

const run = promisify(execFile);
const SIZES = (process.env.VIFD_BENCH_SIZES ?? '100,500,2000').split(',').map(Number);
const BASELINE_MAX = Number(process.env.VIFD_BENCH_BASELINE_MAX ?? 500);
/** Rows per transaction for vifd's writer (its default when unset). */
const MAX_BATCH = process.env.VIFD_BENCH_MAX_BATCH === undefined ? undefined : Number(process.env.VIFD_BENCH_MAX_BATCH);
const BRIDGE = 'vifdbench0';
const VM_UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const prefix = parseMacPrefix(KVM_MAC_PREFIX);
const taps = new TapDevices();

interface Vif { readonly name: string; readonly tag: number; readonly mac: string; readonly index: number }

const vifs = (n: number): Vif[] => Array.from({ length: n }, (_, index) => ({
  name: `vb${index}`, tag: 100 + (index % 50), index, mac: deterministicMac({ vmUuid: VM_UUID, index: index % 1000, prefix }).mac,
}));

const portSpec = (vif: Vif): VifPortSpec => ({
  bridge: BRIDGE, name: vif.name, vlan: validateVlanSettings({ tag: vif.tag }),
  externalIds: vifExternalIds({ vmUuid: VM_UUID, index: vif.index, mac: vif.mac }),
});

async function freshBridge(): Promise<void> {
  await run('ovs-vsctl', ['--timeout=120', '--if-exists', 'del-br', BRIDGE]);
  const datapath = (await run('sh', ['-c', 'test -d /sys/module/openvswitch && echo system || echo netdev'])).stdout.trim();
  await run('ovs-vsctl', ['--timeout=60', 'add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, `datapath_type=${datapath}`]);
}

async function cleanup(list: readonly Vif[]): Promise<void> {
  await run('ovs-vsctl', ['--timeout=120', '--if-exists', 'del-br', BRIDGE]);
  for (const vif of list) taps.delete(vif.name);
}

async function timed(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

/** Wall time, and vifd's own CPU time (this process), which excludes ovs-vswitchd's share. */
async function vifdPlug(writer: PortWriter, list: readonly Vif[]): Promise<{ wall: number; cpu: number }> {
  const cpuBefore = process.cpuUsage();
  const wall = await timed(async () => {
    for (const vif of list) taps.ensure({ name: vif.name, mac: vif.mac });
    await Promise.all(list.map((vif) => writer.ensure(portSpec(vif))));
  });
  const cpu = process.cpuUsage(cpuBefore);
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 };
}

/** What libvirt does per interface: its TAP by ioctl, then one ovs-vsctl that waits for ovs-vswitchd. */
async function baselinePlug(list: readonly Vif[]): Promise<number> {
  return timed(async () => {
    for (const vif of list) {
      taps.ensure({ name: vif.name, mac: vif.mac });
      await run('ovs-vsctl', ['--timeout=120', '--', 'add-port', BRIDGE, vif.name, '--', 'set', 'Port', vif.name, `tag=${vif.tag}`,
        '--', 'set', 'Interface', vif.name, `external_ids:attached-mac="${vif.mac}"`, `external_ids:vm-uuid="${VM_UUID}"`,
        `external_ids:iface-id="${VM_UUID}/${vif.index}"`, 'external_ids:iface-status=active']);
    }
  });
}

/** The floor: creating the TAPs alone, then all ports in one transaction alone. */
async function floor(client: OvsdbClient, list: readonly Vif[]): Promise<{ tap_s: number; transaction_s: number }> {
  const tapSeconds = await timed(() => {
    for (const vif of list) taps.ensure({ name: vif.name, mac: vif.mac });
    return Promise.resolve();
  });
  const operations = list.flatMap((vif) => planEnsurePort(portSpec(vif), client.replica));
  const transactionSeconds = await timed(async () => { await client.commit(operations, { waitForVswitchd: true, timeoutMs: 300_000 }); });
  return { tap_s: tapSeconds, transaction_s: transactionSeconds };
}

const round = (value: number): number => Math.round(value * 10_000) / 10_000;

async function main(): Promise<void> {
  const client = new OvsdbClient({ monitor: PORT_MONITOR });
  await client.start();
  const perVif = new Map<number, number>();
  const cpuPerVif = new Map<number, number>();
  const floorPerVif = new Map<number, number>();
  let ratioAt500: number | null = null;
  let floorRatioAt500: number | null = null;
  try {
    for (const n of SIZES) {
      const list = vifs(n);
      await freshBridge();
      const floorTimes = await floor(client, list);
      await cleanup(list);
      await freshBridge();
      const vifd = await vifdPlug(new PortWriter(client, { timeoutMs: 300_000, ...(MAX_BATCH === undefined ? {} : { maxBatch: MAX_BATCH }) }), list);
      const vifdSeconds = vifd.wall;
      await cleanup(list);
      let baselineSeconds: number | null = null;
      if (n <= BASELINE_MAX) {
        await freshBridge();
        baselineSeconds = await baselinePlug(list);
        await cleanup(list);
      }
      const floorSeconds = floorTimes.tap_s + floorTimes.transaction_s;
      perVif.set(n, vifdSeconds / n);
      cpuPerVif.set(n, vifd.cpu / n);
      floorPerVif.set(n, floorSeconds / n);
      const line = {
        bench: 'bulk-plug', n, vifd_s: round(vifdSeconds), vifd_ms_per_vif: round((vifdSeconds / n) * 1000),
        vifd_cpu_ms_per_vif: round((vifd.cpu / n) * 1000),
        baseline: 'ovs-vsctl-per-port', baseline_s: baselineSeconds === null ? null : round(baselineSeconds),
        ratio: baselineSeconds === null ? null : round(baselineSeconds / vifdSeconds),
        floor: 'tap-ioctls+one-transaction', floor_s: round(floorSeconds), tap_s: round(floorTimes.tap_s),
        transaction_s: round(floorTimes.transaction_s), vifd_vs_floor: round(vifdSeconds / floorSeconds),
      };
      if (n === 500) {
        ratioAt500 = line.ratio;
        floorRatioAt500 = line.vifd_vs_floor;
      }
      console.log(JSON.stringify(line));
    }
  } finally {
    client.close();
    taps.close();
  }
  const growth = (values: Map<number, number>): number | null =>
    values.has(500) && values.has(2000) ? round((values.get(2000) ?? 0) / (values.get(500) ?? 1)) : null;
  const scaling = growth(perVif);
  console.log(JSON.stringify({
    bench: 'bulk-plug-targets',
    speedup_at_500: ratioAt500, speedup_target: 20, speedup_ok: ratioAt500 === null ? null : ratioAt500 >= 20,
    per_vif_2000_vs_500: scaling, scaling_target: 1.5, scaling_ok: scaling === null ? null : scaling <= 1.5,
    // Where the growth comes from: the floor's own growth (ovs-vswitchd, kernel) and vifd's own CPU.
    floor_per_vif_2000_vs_500: growth(floorPerVif), vifd_cpu_per_vif_2000_vs_500: growth(cpuPerVif),
    vifd_vs_floor_at_500: floorRatioAt500, floor_target: 2, floor_ok: floorRatioAt500 === null ? null : floorRatioAt500 <= 2,
  }));
}

await main();
