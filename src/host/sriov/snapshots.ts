// Restore snapshots: a VF's original settings, written atomically (temp file,
// fsync, rename, fsync of the directory) BEFORE vifd touches the VF, so a vifd
// that crashes at any point can still put the VF back. Tagged with the boot id:
// VFs are re-created fresh at boot, so a snapshot of another boot is stale and
// is discarded (and logged), never applied.
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isPciAddress } from '../../model/sriov/pci.js';
import type { PciAddress } from '../../model/sriov/pci.js';
import type { VifOwner } from '../../model/sriov/release.js';
import type { VfNetConfig } from '../../model/sriov/vf-settings.js';
import { VfSnapshotError } from './errors.js';

export const SNAPSHOT_VERSION = 1;
export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

export interface VfSnapshot {
  readonly version: typeof SNAPSHOT_VERSION;
  readonly bootId: string;
  readonly pf: PciAddress;
  readonly pfName: string;
  readonly vf: number;
  readonly address: PciAddress;
  /** The VIF the VF was taken for. */
  readonly owner: VifOwner;
  /** The VF's settings before vifd changed them, as the PF driver reported them. */
  readonly original: VfNetConfig;
  /** The host driver and driver_override it had (absent: none). */
  readonly driver?: string;
  readonly driverOverride?: string;
}

export type VfSnapshotInput = Omit<VfSnapshot, 'version' | 'bootId'>;

export interface SnapshotListing {
  readonly snapshots: readonly VfSnapshot[];
  /** Files that could not be read as a snapshot of this boot's format: the VF's state is unknown. */
  readonly unreadable: readonly { readonly file: string; readonly reason: string }[];
}

const FILE = /^(\d{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\.json$/;
const TEMP_PREFIX = '.tmp-';

function isSnapshot(value: unknown): value is VfSnapshot {
  const record = value as Partial<VfSnapshot> | null;
  return typeof record === 'object' && record !== null && record.version === SNAPSHOT_VERSION && typeof record.bootId === 'string'
    && isPciAddress(record.pf) && isPciAddress(record.address) && typeof record.vf === 'number' && typeof record.pfName === 'string'
    && typeof record.owner?.vmUuid === 'string' && typeof record.owner.vifIndex === 'number'
    && typeof record.original?.mac === 'string' && typeof record.original.vlan === 'number';
}

export class VfSnapshotStore {
  private bootId: string | undefined;

  constructor(
    /** e.g. /run/vifd/sriov: boot-scoped, like the snapshots. */
    readonly dir: string,
    private readonly options: { readonly bootIdPath?: string; readonly log?: (message: string) => void } = {},
  ) {}

  private async currentBootId(): Promise<string> {
    this.bootId ??= (await readFile(this.options.bootIdPath ?? BOOT_ID_PATH, 'utf8')).trim();
    return this.bootId;
  }

  private path(address: PciAddress): string {
    return join(this.dir, `${address}.json`);
  }

  /** Writes the snapshot so that after a crash either the old file or the whole new one exists. */
  async write(input: VfSnapshotInput): Promise<VfSnapshot> {
    const snapshot: VfSnapshot = { version: SNAPSHOT_VERSION, bootId: await this.currentBootId(), ...input };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temp = join(this.dir, `${TEMP_PREFIX}${input.address}.${process.pid}`);
    try {
      const file = await open(temp, 'w', 0o600);
      try {
        await file.writeFile(`${JSON.stringify(snapshot, null, 2)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, this.path(input.address));
      const dir = await open(this.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (error) {
      await rm(temp, { force: true });
      throw VfSnapshotError.at({ pf: input.pfName, vf: input.vf, attribute: 'snapshot' }, `writing the restore snapshot ${this.path(input.address)} failed: ${String(error)}`, { cause: error });
    }
    return snapshot;
  }

  /** The snapshot of one VF from this boot, or undefined (none, or another boot's: discarded). */
  async read(address: PciAddress): Promise<VfSnapshot | undefined> {
    const text = await readFile(this.path(address), 'utf8').catch((error: unknown) => {
      if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
      throw error;
    });
    if (text === undefined) return undefined;
    const parsed = this.parse(`${address}.json`, text);
    if ('reason' in parsed) throw VfSnapshotError.at({ pf: address, attribute: 'snapshot' }, parsed.reason);
    return this.ofThisBoot(parsed);
  }

  private parse(file: string, text: string): VfSnapshot | { reason: string } {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return { reason: `${file} is not JSON: ${String(error)}` };
    }
    return isSnapshot(value) ? value : { reason: `${file} is not a version ${SNAPSHOT_VERSION} VF snapshot` };
  }

  private async ofThisBoot(snapshot: VfSnapshot): Promise<VfSnapshot | undefined> {
    if (snapshot.bootId === (await this.currentBootId())) return snapshot;
    this.options.log?.(`discarding the restore snapshot of VF ${snapshot.address} (PF ${snapshot.pfName} VF ${snapshot.vf}): taken in boot ${snapshot.bootId}, this is boot ${await this.currentBootId()}`);
    await this.remove(snapshot.address);
    return undefined;
  }

  /** Every snapshot of this boot; other boots' are discarded, temp files of interrupted writes removed. */
  async list(): Promise<SnapshotListing> {
    const files = await readdir(this.dir).catch((error: unknown) => {
      if ((error as { code?: unknown }).code === 'ENOENT') return [];
      throw error;
    });
    const snapshots: VfSnapshot[] = [];
    const unreadable: { file: string; reason: string }[] = [];
    for (const file of files.sort()) {
      if (file.startsWith(TEMP_PREFIX)) {
        await rm(join(this.dir, file), { force: true }); // a write that never reached its rename: the old file (if any) stands
        continue;
      }
      if (!FILE.test(file)) continue;
      const parsed = this.parse(file, await readFile(join(this.dir, file), 'utf8'));
      if ('reason' in parsed) unreadable.push({ file, reason: parsed.reason });
      else {
        const current = await this.ofThisBoot(parsed);
        if (current !== undefined) snapshots.push(current);
      }
    }
    return { snapshots, unreadable };
  }

  /** Removes a VF's snapshot (after its restore read back clean); absent is fine. */
  async remove(address: PciAddress): Promise<void> {
    await rm(this.path(address), { force: true });
  }
}
