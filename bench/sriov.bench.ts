// SR-IOV VF assign + release: vifd's path against libvirt's and the kernel's
// floor, on the real igb PF driver in the SR-IOV test guest (one TCG guest,
// QEMU's emulated igb NIC, test/harness/sriov-guest/). Each path works on a VF
// of its own and is timed inside the guest (bench-operations.ts), interleaved
// run by run in a rotating order:
//   vifd     SriovNetworkPool.assign (snapshot, vfio-pci, MAC, VLAN, spoofchk,
//            trust, rate: one request each, each read back) then release
//            (igbvf again, every setting restored and read back)
//   libvirt  libvirt's sequence for <interface type='hostdev' managed='yes'>
//            replayed with the same kernel interfaces (libvirt does not run)
//   floor    the two driver rebinds and one RTM_SETLINK each way, nothing read
// TCG makes every kernel step slower than on hardware; the ratios are the figures.
// Prints one JSON line. Needs root and the cached guest images (the igb e2e
// suite or scripts/build-igb-guest.sh builds them); VIFD_BENCH_SRIOV_RUNS (20).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CycleTiming } from '../test/harness/sriov-guest/bench-operations.js';
import { GuestPf } from '../test/harness/sriov-guest/guest-pf.js';
import { testCacheDir } from '../test/harness/sriov-guest/images.js';
import type { IgbGuestImages } from '../test/harness/sriov-guest/images.js';
import { IgbGuest } from '../test/harness/sriov-guest/vm.js';
import { percentile, round } from './stats.js';

const RUNS = Number(process.env.VIFD_BENCH_SRIOV_RUNS ?? 20);
const VFS = 4;
const VLAN = 100;
const MAX_TX_RATE = 200;
const TARGET_RATIO = 1.5;
const PATHS = ['vifd', 'libvirt', 'floor'] as const;
type Path = typeof PATHS[number];
const DESCRIBED: Record<Path, string> = {
  vifd: 'SriovNetworkPool.assign + release (snapshot file, fsynced; vfio-pci by driver_override, driver read back; MAC, VLAN, spoofchk, trust, rate one RTM_SETLINK each, each read back by RTM_GETLINK, link-state asked once per PF (igb has none); release: igbvf, every setting restored and read back)',
  libvirt: "libvirt's sequence replayed, not libvirt itself (virhostdev.c/virnetdev.c/virpci.c): PF online check, GETLINK, state file; driver_override + unbind + drivers_probe; MAC and VLAN one RTM_SETLINK each (libvirt >= 7), nothing read back; release: state file, MAC + VLAN, back to igbvf",
  floor: 'the kernel writes alone: driver_override + unbind + drivers_probe each way, one RTM_SETLINK each way carrying MAC, VLAN, spoofchk, trust and rate; nothing read',
};

function bail(reason: string): never {
  console.log(JSON.stringify({ bench: 'sriov-vf', error: reason }));
  process.exit(1);
}

/** The images the igb e2e suite caches; the bench never downloads them. */
function cachedImages(): IgbGuestImages {
  const cache = testCacheDir();
  const qemuRoot = join(cache, 'qemu-backports');
  const guest = join(cache, 'igb-guest');
  const files = [join(qemuRoot, 'usr/bin/qemu-system-x86_64'), join(qemuRoot, 'VERSION'), join(guest, 'vmlinuz'), join(guest, 'initrd.img'), join(guest, 'VERSION')];
  const missing = files.filter((file) => !existsSync(file));
  if (missing.length > 0) bail(`the SR-IOV test guest's images are not cached (missing ${missing.join(', ')}): run scripts/build-igb-guest.sh ${cache} as root`);
  const field = (file: string, key: string): string => new RegExp(`^${key} (\\S+)$`, 'm').exec(readFileSync(file, 'utf8'))?.[1] ?? 'unknown';
  return {
    qemuRoot, qemuVersion: field(join(qemuRoot, 'VERSION'), 'qemu'), kernel: join(guest, 'vmlinuz'), initrd: join(guest, 'initrd.img'),
    kernelVersion: field(join(guest, 'VERSION'), 'kernel'), log: 'cached', seconds: 0,
  };
}

/** Enables the VFs, brings the PF up with carrier (a VF rate needs it) and gives each path a VF of its own. */
async function prepare(guest: IgbGuest): Promise<{ pf: GuestPf; targets: Record<Path, Record<string, unknown>> }> {
  const pf = await GuestPf.find(guest);
  await guest.call('enableVfs', { address: pf.address, count: VFS });
  await pf.bringUp();
  const vfs = (await pf.readPf()).vfs;
  const target = (path: Path, index: number): Record<string, unknown> => {
    const vf = vfs[index];
    if (vf?.driver !== 'igbvf') throw new Error(`VF ${index} is not on igbvf: ${JSON.stringify(vf)}`);
    return { pf: pf.netdev, vf: vf.index, address: vf.address, mac: `52:54:00:be:0${index}:01`, vlan: VLAN, maxTxRate: MAX_TX_RATE, path };
  };
  return { pf, targets: { vifd: target('vifd', 0), libvirt: target('libvirt', 1), floor: target('floor', 2) } };
}

type Samples = Record<Path, CycleTiming[]>;

async function measure(guest: IgbGuest, targets: Record<Path, Record<string, unknown>>): Promise<Samples> {
  const samples: Samples = { vifd: [], libvirt: [], floor: [] };
  for (const path of PATHS) await guest.call(`${path}Cycle`, targets[path]); // warm-up: JIT, caches, the pool's first scan
  for (let run = 0; run < RUNS; run++) {
    for (let step = 0; step < PATHS.length; step++) {
      const path = PATHS[(run + step) % PATHS.length] ?? 'vifd';
      samples[path].push(await guest.call<CycleTiming>(`${path}Cycle`, targets[path]));
    }
  }
  return samples;
}

/** p50 of each part (ms per cycle), over the runs. */
function partsP50(cycles: readonly CycleTiming[]): Record<string, number> {
  const names = [...new Set(cycles.flatMap((cycle) => Object.keys(cycle.parts)))].sort();
  return Object.fromEntries(names.map((name) => [name, percentile(cycles.map((cycle) => cycle.parts[name] ?? 0), 50)]));
}

function summary(samples: Samples): Record<string, unknown> {
  const line: Record<string, unknown> = {};
  for (const path of PATHS) {
    const cycles = samples[path];
    const series = { assign: cycles.map((c) => c.assignMs), release: cycles.map((c) => c.releaseMs), cycle: cycles.map((c) => c.assignMs + c.releaseMs) };
    for (const [name, values] of Object.entries(series)) {
      line[`${path}_${name}_p50_ms`] = percentile(values, 50);
      line[`${path}_${name}_p99_ms`] = percentile(values, 99);
    }
    line[`${path}_parts_p50_ms`] = partsP50(cycles);
    line[`${path}_steps`] = cycles[0]?.counts ?? {};
  }
  return line;
}

/** What vifd's attribute read-backs (a GETLINK after each SETLINK) cost per cycle, and its sysfs reads (driver state before and after each bind, the PF's up flag). */
function readBacks(samples: Samples): Record<string, unknown> {
  const cycles = samples.vifd;
  const part = (cycle: CycleTiming, name: string): number => (cycle.parts[`assign_${name}`] ?? 0) + (cycle.parts[`release_${name}`] ?? 0);
  const readback = cycles.map((cycle) => part(cycle, 'readback'));
  const total = cycles.map((cycle) => cycle.assignMs + cycle.releaseMs);
  const share = cycles.map((cycle, at) => (readback[at] ?? 0) / (total[at] ?? 1));
  const withoutReadBack = cycles.map((cycle, at) => (total[at] ?? 0) - (readback[at] ?? 0));
  return {
    vifd_readback_p50_ms: percentile(readback, 50), vifd_readback_share_p50: round(percentile(share, 50), 1000),
    vifd_sysfs_read_p50_ms: percentile(cycles.map((cycle) => part(cycle, 'sysfs_read')), 50),
    vifd_cycle_without_readback_p50_ms: percentile(withoutReadBack, 50),
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) bail('needs root (the guest images are cached under /var/cache, QEMU runs the host /usr)');
  const images = cachedImages();
  const booted = Date.now();
  const guest = await IgbGuest.boot(images);
  const bootS = round((Date.now() - booted) / 1000, 10);
  let samples: Samples;
  let vfs: number;
  try {
    const { pf, targets } = await prepare(guest);
    vfs = (await pf.readPf()).numVfs;
    samples = await measure(guest, targets);
  } finally {
    await guest.stop();
  }
  const line = summary(samples);
  const cycleP50 = (path: Path): number => line[`${path}_cycle_p50_ms`] as number;
  const ratioLibvirt = round(cycleP50('vifd') / cycleP50('libvirt'), 100);
  // Run by run the paths are seconds apart: the median of the per-run ratios is the least moved by the host's load drifting.
  const paired = (other: Path): number => percentile(samples.vifd.map((cycle, run) => {
    const base = samples[other][run];
    return base === undefined ? 0 : (cycle.assignMs + cycle.releaseMs) / (base.assignMs + base.releaseMs);
  }), 50);
  console.log(JSON.stringify({
    bench: 'sriov-vf', runs: RUNS, vfs, guest: `TCG, QEMU ${images.qemuVersion} igb, kernel ${images.kernelVersion}, timed inside the guest`,
    guest_boot_s: bootS, vlan: VLAN, max_tx_rate: MAX_TX_RATE,
    ...line, ...readBacks(samples),
    ratio_vs_libvirt_p50: ratioLibvirt, ratio_vs_floor_p50: round(cycleP50('vifd') / cycleP50('floor'), 100),
    ratio_vs_libvirt_p99: round((line.vifd_cycle_p99_ms as number) / (line.libvirt_cycle_p99_ms as number), 100),
    ratio_vs_libvirt_paired_p50: paired('libvirt'), ratio_vs_floor_paired_p50: paired('floor'),
    libvirt_above_floor_p50: round(cycleP50('libvirt') / cycleP50('floor'), 100),
    vifd: DESCRIBED.vifd, libvirt: DESCRIBED.libvirt, floor: DESCRIBED.floor,
    target: `vifd assign+release within ${TARGET_RATIO}x of libvirt's sequence (p50)`, ok: ratioLibvirt <= TARGET_RATIO,
  }));
}

try {
  await main();
} catch (error) {
  bail(error instanceof Error ? error.message : String(error));
}
