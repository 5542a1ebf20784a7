// The libvirt hook's own cost: from exec of hooks/qemu.d/vifd to its verdict,
// with a daemon side that answers at once, so only the hook's path is timed:
//   before  the shim exec'ing node's hook program, which asks over the control socket (JSON-RPC)
//   after   the shim streaming the XML with nc to the prepare hook socket (no node)
//   sh      the shim for an event vifd ignores (sh + cat): the floor of any hook,
//           one shell and one exec, which is all the fast path is too
//   nc      `nc -U -N` alone streaming the XML, started without a shell
// Interleaved run by run; spawned from this process, whose fork cost every
// row shares. Prints one JSON line with p50/p99 wall time of each, the CPU
// time its processes used per run (which a loaded machine distorts far less),
// the ratios before/after and the targets: "a few milliseconds" (after p50 <= 5 ms,
// absolute) and, since a shell and an exec alone cost more than that on a slow
// host, the fast path's own share: after p50 - sh p50 <= 5 ms.
// Needs nc (netcat-openbsd); no root, no OVS (VIFD_BENCH_HOOK_RUNS, default 200).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../src/api/control-server.js';
import { HookSocketServer, hookSocketPath } from '../src/api/hook-socket.js';
import { validateConfig } from '../src/config/schema.js';
import { parseDomainXml } from '../src/sources/libvirt/domain-xml.js';
import { planDomain } from '../src/sources/libvirt/intent.js';
import { renderDomainInterfaces } from '../src/sources/libvirt/render.js';
import { renderHookShim, runHookShim } from '../test/harness/hook-shim.js';
import { percentile, processCpuTimesS, round, timedMs } from './stats.js';

const RUNS = Number(process.env.VIFD_BENCH_HOOK_RUNS ?? 200);
const TARGET_AFTER_P50_MS = 5;
const TEMPLATE = "<interface type='ethernet'><mac address='{{mac}}'/><target dev='{{device}}' managed='no'/><model type='virtio'/>{{mtu}}</interface>";

function domainXml(): string {
  const config = validateConfig({ networks: { bench: { bridge: 'vifdbenchhook', vlan: 100 } } });
  const intent = `<metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">${'<vifd:vif network="bench"/>'.repeat(7)}</vifd:vifd></metadata>`;
  const bare = `<domain type='kvm'><name>bench-vm</name><uuid>0b6f1c8e-3d2a-4e5b-9c7d-8e9f0a1b2c3d</uuid>${intent}<devices></devices></domain>`;
  const parsed = parseDomainXml(bare);
  return renderDomainInterfaces(bare, parsed, planDomain(parsed, config), TEMPLATE);
}

function ncAlone(socket: string, xml: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nc', ['-U', '-N', socket], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('close', (code) => { if (code === 0) resolve(); else reject(new Error(`nc exited ${String(code)}`)); });
    child.stdin.end(xml);
  });
}

/** CPU milliseconds used so far by this process's reaped children (and theirs): wall time on a loaded machine says little. */
const childrenCpuMs = (): number => processCpuTimesS('self').children * 1000;

/** Runs `work`, adding its wall time to `wall` and its children's CPU time to `cpu`. */
async function measured(row: { wall: number[]; cpu: number }, work: () => Promise<void>): Promise<void> {
  const cpuBefore = childrenCpuMs();
  row.wall.push(await timedMs(work));
  row.cpu += childrenCpuMs() - cpuBefore;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vifd-bench-hook-'));
  const shim = renderHookShim(dir);
  const controlSocket = join(dir, 'vifd.sock');
  const control = await ControlServer.listen(controlSocket, { prepare: () => Promise.resolve({ vifs: [] }) });
  const hook = await HookSocketServer.listen(hookSocketPath(dir, 'prepare'), 'prepare', () => Promise.resolve({ ok: true }));
  const xml = domainXml();
  const rows = { before: { wall: [] as number[], cpu: 0 }, after: { wall: [] as number[], cpu: 0 }, sh: { wall: [] as number[], cpu: 0 }, nc: { wall: [] as number[], cpu: 0 } };
  const shimRun = async (op: string, env: Record<string, string>): Promise<void> => {
    const result = await runHookShim(shim, { domain: 'bench-vm', op, subop: 'begin' }, xml, env);
    if (result.code !== 0) throw new Error(`hook ${op}: exit ${String(result.code)}: ${result.stderr}`);
  };
  try {
    for (let i = 0; i < RUNS; i++) {
      await measured(rows.before, () => shimRun('prepare', { VIFD_HOOK_SOCKET_DIR: join(dir, 'absent'), VIFD_SOCKET: controlSocket }));
      await measured(rows.after, () => shimRun('prepare', { VIFD_HOOK_SOCKET_DIR: dir, VIFD_SOCKET: `${controlSocket}.absent` }));
      await measured(rows.sh, () => shimRun('started', {}));
      await measured(rows.nc, () => ncAlone(hookSocketPath(dir, 'prepare'), xml));
    }
  } finally {
    await hook.close();
    await control.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const line: Record<string, unknown> = { bench: 'hook-cost', runs: RUNS, xml_bytes: Buffer.byteLength(xml) };
  for (const [name, row] of Object.entries(rows)) {
    line[`${name}_p50_ms`] = percentile(row.wall, 50);
    line[`${name}_p99_ms`] = percentile(row.wall, 99);
    line[`${name}_cpu_ms_per_run`] = round(row.cpu / RUNS, 100);
  }
  const afterP50 = percentile(rows.after.wall, 50);
  const afterAboveSh = round(afterP50 - percentile(rows.sh.wall, 50), 100);
  console.log(JSON.stringify({
    ...line,
    before: 'sh+node hook.js over the control socket', after: 'sh+nc over the hook socket',
    ratio_p50: round(percentile(rows.before.wall, 50) / afterP50, 100),
    ratio_p99: round(percentile(rows.before.wall, 99) / percentile(rows.after.wall, 99), 100),
    ratio_cpu: round(rows.before.cpu / rows.after.cpu, 100),
    after_above_sh_p50_ms: afterAboveSh, target_after_above_sh_p50_ms: TARGET_AFTER_P50_MS, ok_above_sh: afterAboveSh <= TARGET_AFTER_P50_MS,
    target: 'a few milliseconds', target_after_p50_ms: TARGET_AFTER_P50_MS, ok: afterP50 <= TARGET_AFTER_P50_MS,
  }));
}

await main();
