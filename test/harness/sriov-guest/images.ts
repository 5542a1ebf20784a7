// The SR-IOV test guest's two caches (scripts/build-igb-guest.sh): QEMU >= 8
// from bookworm-backports, extracted privately, and the generic-kernel guest.
// The suite builds or reuses them; when the Debian archive is unreachable it
// says so and skips, and with CI=true it fails (never skips).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tryRun } from '../exec.js';

/** The checkout this file was compiled from (dist/test/harness/sriov-guest/ is four levels down). */
export const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const testCacheDir = (): string => process.env.VIFD_TEST_CACHE ?? '/var/cache/vifd-test';

export interface IgbGuestImages {
  /** The root of the extracted QEMU packages (usr/bin/qemu-system-x86_64, usr/share/qemu...). */
  readonly qemuRoot: string;
  readonly qemuVersion: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelVersion: string;
  /** The build script's output (cached or built, what was downloaded). */
  readonly log: string;
  readonly seconds: number;
}

/** Exit status of build-igb-guest.sh when the Debian archive (bookworm-backports) cannot be reached. */
const UNREACHABLE = 3;
const BUILD_TIMEOUT_MS = 15 * 60_000;

const versionField = (file: string, key: string): string =>
  new RegExp(`^${key} (\\S+)$`, 'm').exec(readFileSync(file, 'utf8'))?.[1] ?? 'unknown';

/** Builds or reuses the images; a missing download skips the suite (CI=true: fails it). */
export async function prepareIgbGuestImages(context: Mocha.Context): Promise<IgbGuestImages> {
  const cache = testCacheDir();
  const started = Date.now();
  const result = await tryRun([join(CHECKOUT, 'scripts/build-igb-guest.sh'), cache], { timeoutMs: BUILD_TIMEOUT_MS });
  const log = `${result.stdout}${result.stderr}`.trim();
  if (result.code === UNREACHABLE) {
    const message = `missing prerequisites: QEMU >= 8 with the igb NIC and Debian's generic kernel could not be downloaded (bookworm-backports unreachable):\n${log}`;
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`      skipped: ${message}`);
    context.skip();
  }
  if (result.code !== 0) throw new Error(`scripts/build-igb-guest.sh failed (exit ${String(result.code)}):\n${log}`);
  const qemuRoot = join(cache, 'qemu-backports');
  const guest = join(cache, 'igb-guest');
  return {
    qemuRoot, qemuVersion: versionField(join(qemuRoot, 'VERSION'), 'qemu'),
    kernel: join(guest, 'vmlinuz'), initrd: join(guest, 'initrd.img'), kernelVersion: versionField(join(guest, 'VERSION'), 'kernel'),
    log, seconds: (Date.now() - started) / 1000,
  };
}
