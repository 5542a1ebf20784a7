// libvirt binding micro-benchmarks against the real libvirtd (qemu:///system):
// a representative call (look a domain up and read its XML) through the
// binding vs the same through one `virsh dumpxml` process each (what shell
// hooks and scripts do), and domain event delivery latency (define on one
// connection until the event arrives on another). JSON lines.
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { LibvirtConnection } from '../src/libvirt/connection.js';

const run = promisify(execFile);
const URI = 'qemu:///system';
const CALLS = Number(process.env.VIFD_BENCH_LIBVIRT_CALLS ?? 200);
const EVENTS = Number(process.env.VIFD_BENCH_LIBVIRT_EVENTS ?? 50);
const NAME = 'vifdbench-libvirt';
const XML = `<domain type='qemu'><name>${NAME}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`;

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const ms = (value: number): number => Math.round(value * 1000) / 1000;

async function main(): Promise<void> {
  const caller = await LibvirtConnection.open({ uri: URI });
  const listener = await LibvirtConnection.open({ uri: URI });
  try {
    await caller.defineDomain(XML);
    const bindingStart = performance.now();
    for (let i = 0; i < CALLS; i++) await caller.domainXml({ name: NAME });
    const bindingMs = (performance.now() - bindingStart) / CALLS;
    const virshCalls = Math.min(CALLS, 50);
    const virshStart = performance.now();
    for (let i = 0; i < virshCalls; i++) await run('virsh', ['-q', '-c', URI, 'dumpxml', NAME]);
    const virshMs = (performance.now() - virshStart) / virshCalls;
    console.log(JSON.stringify({ bench: 'libvirt-lookup-xml', calls: CALLS, binding_ms: ms(bindingMs), baseline: 'virsh-dumpxml-process', baseline_ms: ms(virshMs), ratio: ms(virshMs / bindingMs) }));
    await caller.undefineDomain({ name: NAME });

    const latencies: number[] = [];
    const calls: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const seen = new Promise<number>((resolve) => {
        const onEvent = (event: { type: string; domain: { name: string }; event?: string }): void => {
          if (event.type !== 'lifecycle' || event.domain.name !== NAME || event.event !== 'defined') return;
          listener.off('event', onEvent);
          resolve(performance.now());
        };
        listener.on('event', onEvent);
      });
      const start = performance.now();
      await caller.defineDomain(XML);
      calls.push(performance.now() - start);
      latencies.push((await seen) - start);
      await caller.undefineDomain({ name: NAME });
    }
    console.log(JSON.stringify({
      bench: 'libvirt-event-latency', events: EVENTS, define_to_event_p50_ms: ms(percentile(latencies, 50)), define_to_event_p99_ms: ms(percentile(latencies, 99)),
      baseline: 'define-call-duration', baseline_p50_ms: ms(percentile(calls, 50)), ratio: ms(percentile(latencies, 50) / percentile(calls, 50)),
    }));
  } finally {
    await caller.undefineDomain({ name: NAME }).catch(() => undefined);
    await caller.close();
    await listener.close();
  }
}

await main();
