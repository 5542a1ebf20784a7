// Orphan GC at host scale: N ports with their TAPs, all marked as vifd's and
// belonging to VMs that do not exist (as after a crash or a reboot with VMs
// gone), then vifd started from this build with its own config and control
// socket. Measured: time to the control socket answering, time until every
// orphan port and TAP is gone, vifd's RSS after (and its peak), and whether
// it lost its OVSDB session on the way (an event loop too busy to answer the
// server's echo). The floor, measured in the same run: the same ports deleted
// in ONE transaction plus the same TAPs deleted by ioctl. `make bench`
// (VIFD_BENCH_GC_SIZES=500,2000,5000). Needs root, Open vSwitch and libvirtd.
// Runs on a private host (own network namespace and Open vSwitch): the vifd
// it starts would otherwise take any vifd-owned port on the machine for its own.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { callControl } from '../src/api/control-client.js';
import { OvsdbClient } from '../src/host/ovsdb/client.js';
import { set, setElements, uuid, uuidOf } from '../src/host/ovsdb/datum.js';
import { EXTERNAL_ID, PORT_MONITOR, listOwnedPorts, planEnsurePort, vifExternalIds } from '../src/host/ovsdb/ports.js';
import { TapDevices } from '../src/host/tap.js';
import { tapAlias } from '../src/kinds/tap-ovs/observe.js';
import { KVM_MAC_PREFIX, deterministicMac, parseMacPrefix } from '../src/model/mac.js';
import { deviceName } from '../src/model/names.js';
import { validateVlanSettings } from '../src/model/vlan.js';
import { runOnPrivateHost } from './private-host.js';
import type { PrivateHost } from './private-host.js';
import { processRssMb } from './stats.js';

const SIZES = (process.env.VIFD_BENCH_GC_SIZES ?? '500,2000,5000').split(',').map(Number);
const BRIDGE = 'vifdbenchgc';
const VIFS_PER_VM = 7;
const VIFD = new URL('../src/cli/vifd.js', import.meta.url).pathname;
const prefix = parseMacPrefix(KVM_MAC_PREFIX);
const taps = new TapDevices();

interface Orphan { readonly device: string; readonly vmUuid: string; readonly index: number; readonly mac: string }

function orphans(n: number): Orphan[] {
  const vms = Array.from({ length: Math.ceil(n / VIFS_PER_VM) }, () => randomUUID());
  return Array.from({ length: n }, (_, i) => {
    const vmUuid = vms[Math.floor(i / VIFS_PER_VM)] ?? '';
    const index = i % VIFS_PER_VM;
    return { device: deviceName(vmUuid, index), vmUuid, index, mac: deterministicMac({ vmUuid, index, prefix }).mac };
  });
}

async function place(host: PrivateHost, client: OvsdbClient, list: readonly Orphan[]): Promise<void> {
  await host.freshBridge(BRIDGE);
  await client.waitUntil(() => client.replica.byName('Bridge', BRIDGE) !== undefined, 30_000, 'the bridge');
  for (const vif of list) taps.ensure({ name: vif.device, mac: `fe${vif.mac.slice(2)}`, alias: tapAlias(vif.vmUuid, vif.index) });
  const operations = list.flatMap((vif) => planEnsurePort({
    bridge: BRIDGE, name: vif.device, vlan: validateVlanSettings({ tag: 100 }),
    externalIds: { ...vifExternalIds({ vmUuid: vif.vmUuid, index: vif.index, mac: vif.mac }), [EXTERNAL_ID.network]: 'benchnet' },
  }, client.replica));
  await client.commit(operations, { waitForVswitchd: true, timeoutMs: 600_000 });
}

const ownedOnBridge = (client: OvsdbClient): number => listOwnedPorts(client.replica).filter((port) => port.bridge === BRIDGE).length;
const tapsLeft = (list: readonly Orphan[]): number => list.filter((vif) => existsSync(`/sys/class/net/${vif.device}`)).length;

const rssMb = (pid: number, field: 'VmRSS' | 'VmHWM'): number => Math.round(processRssMb(pid, field) * 10) / 10;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now();
}

async function vifdGc(host: PrivateHost, client: OvsdbClient, list: readonly Orphan[], dir: string): Promise<Record<string, unknown>> {
  const socket = join(dir, 'vifd.sock');
  const config = join(dir, 'vifd.yaml');
  writeFileSync(config, JSON.stringify({ control_socket: socket, ovsdb: { socket: host.ovs.socket }, metrics: { listen: `127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}` },
    log: { level: 'info' }, networks: { benchnet: { bridge: BRIDGE, vlan: 100 } } }));
  const start = performance.now();
  const child = spawn(process.execPath, [VIFD, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  try {
    const answering = await until('the control socket', async () => {
      try {
        await callControl(socket, 'ping', {}, { connectTimeoutMs: 0, timeoutMs: 1000 });
        return true;
      } catch {
        return false; // not answering yet
      }
    }, 60_000);
    const gone = await until('every orphan gone', () => ownedOnBridge(client) === 0 && tapsLeft(list) === 0, 600_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pid = child.pid ?? 0;
    return {
      socket_s: round((answering - start) / 1000), gc_s: round((gone - start) / 1000),
      rss_mb: rssMb(pid, 'VmRSS'), peak_rss_mb: rssMb(pid, 'VmHWM'), ovsdb_session_lost: /lost ovsdb-server/.test(output),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/** The floor: every port out of the bridge in one transaction, then every TAP by ioctl. */
async function floor(client: OvsdbClient, list: readonly Orphan[]): Promise<number> {
  const bridge = client.replica.byName('Bridge', BRIDGE);
  if (bridge === undefined) throw new Error('no bridge');
  const names = new Set(list.map((vif) => vif.device));
  const ports = setElements(bridge.row.ports).flatMap((ref) => {
    const id = uuidOf(ref);
    const row = id === null ? undefined : client.replica.row('Port', id);
    return id !== null && typeof row?.name === 'string' && names.has(row.name) ? [uuid(id)] : [];
  });
  const start = performance.now();
  await client.commit([{ op: 'mutate', table: 'Bridge', where: [['_uuid', '==', ['uuid', bridge.uuid]]], mutations: [['ports', 'delete', set(ports)]] }],
    { waitForVswitchd: true, timeoutMs: 600_000 });
  for (const vif of list) taps.delete(vif.device);
  return (performance.now() - start) / 1000;
}

const round = (value: number): number => Math.round(value * 1000) / 1000;

async function main(host: PrivateHost): Promise<void> {
  const client = new OvsdbClient({ socketPath: host.ovs.socket, monitor: PORT_MONITOR });
  await client.start();
  const dir = mkdtempSync(join(tmpdir(), 'vifd-bench-gc-'));
  let list: Orphan[] = [];
  try {
    for (const n of SIZES) {
      list = orphans(n);
      await place(host, client, list);
      const vifd = await vifdGc(host, client, list, dir);
      await place(host, client, list);
      const floorSeconds = await floor(client, list);
      const gcSeconds = vifd.gc_s as number;
      console.log(JSON.stringify({
        bench: 'gc-orphans', n, ...vifd, floor: 'one-delete-transaction+tap-ioctls', floor_s: round(floorSeconds),
        vifd_vs_floor: round(gcSeconds / floorSeconds),
        targets: { socket_s: 1, gc_s_at_5000: 10, vs_floor: 2, rss_mb_at_5000: 150 },
        ok: (vifd.socket_s as number) <= 1 && !(vifd.ovsdb_session_lost as boolean) && (n < 5000 || (gcSeconds <= 10 && gcSeconds / floorSeconds <= 2 && (vifd.rss_mb as number) <= 150)),
      }));
    }
  } finally {
    for (const vif of list) taps.delete(vif.device);
    client.close();
    taps.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await runOnPrivateHost(import.meta.url, main);
