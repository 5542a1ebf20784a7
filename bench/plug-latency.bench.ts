// Plug latency: how long libvirt's prepare waits for vifd to plug one VM with
// 7 VIFs on a bridge that already holds 1000 ports, measured three ways side
// by side on the same switch:
//   vifd     the engine's prepare (plan, TAPs, one batched transaction, applied by ovs-vswitchd)
//   hook     the installed path: the hook program started as libvirt starts it, over the control socket
//   baseline libvirt's own way for bridge/openvswitch interfaces: per VIF a TAP, then one ovs-vsctl
// Prints one JSON line with p50/p99 of each and the ratio baseline/vifd.
// Run as root with Open vSwitch up: `make bench` (VIFD_BENCH_PLUG_ITERATIONS, default 40).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { ControlServer } from '../src/api/control-server.js';
import { validateConfig } from '../src/config/schema.js';
import { controlHandlers } from '../src/daemon/handlers.js';
import { Engine } from '../src/engine/engine.js';
import type { EngineLog } from '../src/engine/types.js';
import { OvsdbClient } from '../src/host/ovsdb/client.js';
import { PortWriter } from '../src/host/ovsdb/port-writer.js';
import { PORT_MONITOR, listOwnedPorts, vifExternalIds } from '../src/host/ovsdb/ports.js';
import { TapDevices } from '../src/host/tap.js';
import { parseDomainXml } from '../src/model/domain-xml.js';
import { planDomain } from '../src/model/plan.js';
import { renderDomainInterfaces } from '../src/model/render.js';
import { validateVlanSettings } from '../src/model/vlan.js';

const run = promisify(execFile);
const ITERATIONS = Number(process.env.VIFD_BENCH_PLUG_ITERATIONS ?? 40);
const FILLER_PORTS = 1000;
const VIFS = 7;
const BRIDGE = 'vifdbenchlat';
const VM_UUID = '0b6f1c8e-3d2a-4e5b-9c7d-8e9f0a1b2c3d';
const HOOK = new URL('../src/cli/hook.js', import.meta.url).pathname;
const TEMPLATE = "<interface type='ethernet'><mac address='{{mac}}'/><target dev='{{device}}' managed='no'/><model type='virtio'/>{{mtu}}</interface>";
const quiet: EngineLog = { error: (m) => { console.error(m); }, warn: () => undefined, info: () => undefined, debug: () => undefined };

const config = validateConfig({ networks: { bench: { bridge: BRIDGE, vlan: 100 } } });

function domainXml(): string {
  const intent = `<metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">${'<vifd:vif network="bench"/>'.repeat(VIFS)}</vifd:vifd></metadata>`;
  const bare = `<domain type='kvm'><name>bench-vm</name><uuid>${VM_UUID}</uuid>${intent}<devices></devices></domain>`;
  const parsed = parseDomainXml(bare);
  return renderDomainInterfaces(bare, parsed, planDomain(parsed, config), TEMPLATE);
}

async function freshBridge(): Promise<void> {
  await run('ovs-vsctl', ['--timeout=120', '--if-exists', 'del-br', BRIDGE]);
  const datapath = (await run('sh', ['-c', 'test -d /sys/module/openvswitch && echo system || echo netdev'])).stdout.trim();
  await run('ovs-vsctl', ['--timeout=60', 'add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, `datapath_type=${datapath}`]);
}

/** 1000 ports of other VMs, each on its own TAP, as on a busy host. */
async function fill(taps: TapDevices, writer: PortWriter): Promise<string[]> {
  const names = Array.from({ length: FILLER_PORTS }, (_, index) => `vbl${index}`);
  for (const name of names) taps.ensure({ name });
  await Promise.all(names.map((name, index) => writer.ensure({
    bridge: BRIDGE, name, vlan: validateVlanSettings({ tag: 200 + (index % 50) }),
    externalIds: vifExternalIds({ vmUuid: '11111111-2222-4333-8444-555555555555', index: index % 1000, mac: '52:54:00:00:00:01' }),
  })));
  return names;
}

async function timedMs(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

const percentile = (samples: readonly number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0) * 100) / 100;
};

function hookPrepare(socket: string, xml: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [HOOK, 'qemu', 'bench-vm', 'prepare', 'begin', '-'], { env: { ...process.env, VIFD_SOCKET: socket } },
      (error, _stdout, stderr) => { if (error === null) resolve(); else reject(new Error(`hook: ${stderr}`)); });
    child.stdin?.end(xml);
  });
}

async function baselinePlug(taps: TapDevices, devices: readonly string[]): Promise<void> {
  for (const [index, name] of devices.entries()) {
    taps.ensure({ name });
    await run('ovs-vsctl', ['--timeout=120', '--', 'add-port', BRIDGE, name, '--', 'set', 'Port', name, 'tag=100',
      '--', 'set', 'Interface', name, `external_ids:vm-uuid="${VM_UUID}"`, `external_ids:iface-id="${VM_UUID}/${index}"`, 'external_ids:iface-status=active']);
  }
}

async function main(): Promise<void> {
  const client = new OvsdbClient({ monitor: PORT_MONITOR });
  await client.start();
  const taps = new TapDevices();
  const writer = new PortWriter(client, { timeoutMs: 300_000 });
  const engine = new Engine({
    settings: config, log: quiet,
    domains: { list: () => Promise.resolve([]), get: () => Promise.resolve(null) },
    host: { taps, ports: writer, ownedPorts: () => listOwnedPorts(client.replica) },
  });
  const dir = mkdtempSync(join(tmpdir(), 'vifd-bench-'));
  const socket = join(dir, 'vifd.sock');
  const server = await ControlServer.listen(socket, controlHandlers(engine, quiet));
  const xml = domainXml();
  const devices = planDomain(parseDomainXml(xml), config).vifs.map((vif) => vif.device);
  let filler: string[] = [];
  try {
    await freshBridge();
    filler = await fill(taps, writer);
    const vifd: number[] = [];
    const hook: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      vifd.push(await timedMs(() => engine.prepare(xml)));
      await engine.release(xml);
      hook.push(await timedMs(() => hookPrepare(socket, xml)));
      await engine.release(xml);
      baseline.push(await timedMs(() => baselinePlug(taps, devices)));
      await run('ovs-vsctl', ['--timeout=120', ...devices.flatMap((name) => ['--', 'del-port', BRIDGE, name])]);
      for (const name of devices) taps.delete(name);
    }
    const p50 = percentile(vifd, 50);
    console.log(JSON.stringify({
      bench: 'plug-latency', vifs: VIFS, bridge_ports: FILLER_PORTS, iterations: ITERATIONS,
      vifd_p50_ms: p50, vifd_p99_ms: percentile(vifd, 99),
      hook_p50_ms: percentile(hook, 50), hook_p99_ms: percentile(hook, 99),
      baseline: 'tap+ovs-vsctl-per-vif', baseline_p50_ms: percentile(baseline, 50), baseline_p99_ms: percentile(baseline, 99),
      ratio_p50: Math.round((percentile(baseline, 50) / p50) * 100) / 100,
    }));
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    await run('ovs-vsctl', ['--timeout=120', '--if-exists', 'del-br', BRIDGE]);
    for (const name of [...filler, ...devices]) taps.delete(name);
    client.close();
    taps.close();
  }
}

await main();
