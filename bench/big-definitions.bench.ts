// Domain definitions near and over the 1 MiB bound, sent to a running vifd as
// the hook sends them: does the daemon keep answering meanwhile (parsing runs
// in a worker thread), and does its memory come back afterwards? Prints vifd's
// RSS before, at the peak and 10 s after, and the slowest `ping` answered
// while 20 definitions of ~1 MiB and one of 15 MB were being handled.
// `make bench`. Runs on a private host (own network namespace and Open vSwitch).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { callControl } from '../src/api/control-client.js';
import { runOnPrivateHost } from './private-host.js';
import type { PrivateHost } from './private-host.js';
import { processRssMb, round } from './stats.js';

const VIFD = new URL('../src/cli/vifd.js', import.meta.url).pathname;
const BRIDGE = 'vifdbenchxml';

function definition(chars: number): string {
  const disk = "<disk type='file' device='disk'><source file='/var/lib/x.qcow2'/><target dev='vda' bus='virtio'/></disk>";
  return `<domain type='kvm'><name>big</name><uuid>6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b</uuid><metadata>` +
    `<v:vifd xmlns:v="https://vifd.dev/xmlns/vifd/1"><v:vif network="benchnet"/></v:vifd></metadata>` +
    `<devices>${disk.repeat(Math.ceil(chars / disk.length))}</devices></domain>`;
}

const rssMb = (pid: number, field: 'VmRSS' | 'VmHWM'): number => round(processRssMb(pid, field), 10);

async function main(host: PrivateHost): Promise<void> {
  await host.freshBridge(BRIDGE);
  const dir = mkdtempSync(join(tmpdir(), 'vifd-bench-xml-'));
  const socket = join(dir, 'vifd.sock');
  const config = join(dir, 'vifd.yaml');
  writeFileSync(config, JSON.stringify({ control_socket: socket, ovsdb: { socket: host.ovs.socket },
    metrics: { listen: `127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}` }, networks: { benchnet: { bridge: BRIDGE } } }));
  const child = spawn(process.execPath, [VIFD, '--config', config], { stdio: 'ignore' });
  const pid = child.pid ?? 0;
  try {
    for (;;) {
      try {
        await callControl(socket, 'ping', {}, { connectTimeoutMs: 0, timeoutMs: 1000 });
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50)); // not serving yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const before = rssMb(pid, 'VmRSS');
    let slowestPingMs = 0;
    const state = { sending: true };
    const pinger = (async () => {
      while (state.sending) {
        const started = performance.now();
        await callControl(socket, 'ping', {}, { connectTimeoutMs: 0, timeoutMs: 30_000 });
        slowestPingMs = Math.max(slowestPingMs, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const outcomes: string[] = [];
    const near = definition(1000 * 1024);
    for (let i = 0; i < 20; i++) {
      await callControl(socket, 'prepare', { xml: near }, { connectTimeoutMs: 0, timeoutMs: 60_000 }).then(() => outcomes.push('ok'),
        (error: unknown) => outcomes.push((error as Error).message.slice(0, 60)));
    }
    await callControl(socket, 'prepare', { xml: definition(15 * 1024 * 1024) }, { connectTimeoutMs: 0, timeoutMs: 60_000 })
      .then(() => outcomes.push('ok'), (error: unknown) => outcomes.push((error as Error).message.slice(0, 60)));
    state.sending = false;
    await pinger;
    const peak = rssMb(pid, 'VmHWM');
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const after = rssMb(pid, 'VmRSS');
    console.log(JSON.stringify({
      bench: 'big-definitions', definitions: '20 x 1000 KiB + 1 x 15 MiB', refused: outcomes.filter((outcome) => outcome !== 'ok').length,
      first_refusal: outcomes[0], last_refusal: outcomes.at(-1), rss_before_mb: before, rss_peak_mb: peak, rss_after_10s_mb: after,
      slowest_ping_ms: Math.round(slowestPingMs), targets: { rss_after_vs_before: 1.5, slowest_ping_ms: 500 },
      ok: after <= before * 1.5 && slowestPingMs <= 500,
    }));
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

await runOnPrivateHost(import.meta.url, main);
