// A Lab owns the host resources one test suite makes and removes all of them,
// last made first, even when the test failed. Use it as
//   const lab = new Lab(); after(() => lab.cleanup());
// The first Lab of a process also removes what dead earlier runs left behind.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_READY, cachedDomainType, guestDomainXml, nicUpLine, saveDomainType } from './guest.js';
import type { DomainType, GuestNic, GuestSpec } from './guest.js';
import { SerialTimeoutError, createTransientDomain, listDomains, removeDomain, waitForSerialLine } from './libvirt.js';
import {
  createNetns, createTap, createVethPair, deleteLink, deleteNetns, listLinks, listNetns, moveIntoNetns,
} from './net.js';
import { addPort, createBridge, deleteBridge, listBridges } from './ovs.js';
import type { PortVlan } from './ovs.js';
import { forgetDeadRuns, isDeadRun, noteLeftovers, runId, runIdOf, uniqueName } from './names.js';

interface Undo {
  readonly what: string;
  readonly action: () => Promise<void>;
}

export interface Probe {
  readonly netns: string;
  /** The veth end on the OVS bridge. */
  readonly port: string;
}

export interface GuestOptions extends Partial<Pick<GuestSpec, 'laterNics' | 'domainType'>> {
  readonly bootTimeoutMs?: number;
}

export interface Guest {
  readonly name: string;
  readonly serialLog: string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Writes a device XML into the lab's scratch dir, for virsh attach/detach. */
  deviceFile(xml: string): string;
}

const GUEST_BOOT_TIMEOUT_MS = 90_000;
// Under TCG the guest is ready in about 2 s; KVM that works is faster still.
const KVM_PROBE_TIMEOUT_MS = 20_000;
const TMP_PREFIX = 'vifd-test-';

export class Lab {
  private readonly undo: Undo[] = [];
  private workDir: string | null = null;
  private deviceFiles = 0;

  /** Registers an undo step; steps run last-registered first. */
  defer(what: string, action: () => Promise<void>): void {
    this.undo.push({ what, action });
  }

  async bridge(): Promise<string> {
    await sweepDeadRunsOnce();
    const name = uniqueName('bridge');
    this.defer(`OVS bridge ${name}`, () => deleteBridge(name));
    await createBridge(name);
    return name;
  }

  async tap(options: { multiQueue?: boolean } = {}): Promise<string> {
    await sweepDeadRunsOnce();
    const name = uniqueName('tap');
    this.defer(`TAP ${name}`, () => deleteLink(name));
    await createTap(name, options);
    return name;
  }

  async vethPair(): Promise<[string, string]> {
    await sweepDeadRunsOnce();
    const [name, peer] = [uniqueName('veth'), uniqueName('veth')];
    this.defer(`veth ${name}`, () => deleteLink(name));
    await createVethPair(name, peer);
    return [name, peer];
  }

  async netns(): Promise<string> {
    await sweepDeadRunsOnce();
    const name = uniqueName('netns');
    this.defer(`netns ${name}`, () => deleteNetns(name));
    await createNetns(name);
    return name;
  }

  /** Puts a port on a bridge; removed with the bridge or the link it names. */
  async port(bridge: string, port: string, vlan: PortVlan = {}): Promise<void> {
    await addPort(bridge, port, vlan);
  }

  /** A namespace with an address, wired to the bridge through a veth on `vlan`. */
  async probe(bridge: string, cidr: string, vlan: PortVlan): Promise<Probe> {
    const netns = await this.netns();
    const [port, inside] = await this.vethPair();
    await moveIntoNetns(inside, netns, cidr);
    await this.port(bridge, port, vlan);
    return { netns, port };
  }

  /** A path in this lab's scratch directory (removed at cleanup). */
  scratchPath(fileName: string): string {
    return join(this.scratchDir(), fileName);
  }

  private scratchDir(): string {
    if (this.workDir !== null) return this.workDir;
    const dir = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${runId}-`));
    this.workDir = dir;
    this.defer(`scratch dir ${dir}`, () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    });
    return dir;
  }

  /** Boots a test guest (transient domain) and waits until its NICs are up. */
  async guest(nics: readonly GuestNic[], options: GuestOptions = {}): Promise<Guest> {
    await sweepDeadRunsOnce();
    const name = uniqueName('domain');
    const serialLog = join(this.scratchDir(), `${name}.serial.log`);
    const xmlPath = join(this.scratchDir(), `${name}.xml`);
    const domainType = options.domainType ?? (await this.guestDomainType());
    this.defer(`domain ${name}`, () => removeDomain(name));
    writeFileSync(xmlPath, guestDomainXml({ name, domainType, nics, serialLog, laterNics: options.laterNics ?? [] }));
    await createTransientDomain(xmlPath);
    const guest: Guest = {
      name,
      serialLog,
      waitFor: (pattern, timeoutMs = GUEST_BOOT_TIMEOUT_MS) => waitForSerialLine(serialLog, pattern, timeoutMs),
      deviceFile: (xml) => {
        const path = join(this.scratchDir(), `${name}.device${String(++this.deviceFiles)}.xml`);
        writeFileSync(path, xml);
        return path;
      },
    };
    await guest.waitFor(GUEST_READY, options.bootTimeoutMs);
    for (const nic of nics) await guest.waitFor(nicUpLine(nic.mac));
    return guest;
  }

  /**
   * KVM when it can boot the test guest, else TCG: some hosts expose a /dev/kvm
   * that cannot run a stock guest kernel (see host-notes). Probed once per boot.
   */
  guestDomainType(): Promise<DomainType> {
    const known = cachedDomainType();
    if (known !== null) return Promise.resolve(known);
    domainTypeProbe ??= probeDomainType();
    return domainTypeProbe;
  }

  /** Runs every undo step, newest first; reports all failures together. */
  async cleanup(): Promise<void> {
    const failures: string[] = [];
    for (let step = this.undo.pop(); step !== undefined; step = this.undo.pop()) {
      try {
        await step.action();
      } catch (error) {
        failures.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.workDir = null;
    if (failures.length > 0) noteLeftovers();
    if (failures.length > 0) throw new Error(`lab cleanup left resources behind:\n  ${failures.join('\n  ')}`);
  }
}

let domainTypeProbe: Promise<DomainType> | null = null;

async function probeDomainType(): Promise<DomainType> {
  const probe = new Lab();
  let verdict: DomainType = 'kvm';
  try {
    await probe.guest([], { domainType: 'kvm', bootTimeoutMs: KVM_PROBE_TIMEOUT_MS });
  } catch (error) {
    // Only silence on the console says KVM cannot run the guest; any other
    // failure is a broken setup and must surface, not be cached as a verdict.
    if (!(error instanceof SerialTimeoutError)) throw error;
    verdict = 'qemu';
  } finally {
    await probe.cleanup();
  }
  saveDomainType(verdict);
  return verdict;
}

let sweep: Promise<void> | null = null;

/** Removes harness-named resources of runs that are gone; once per process. */
export function sweepDeadRunsOnce(): Promise<void> {
  sweep ??= sweepDeadRuns();
  return sweep;
}

export async function sweepDeadRuns(): Promise<void> {
  const dead = (name: string): boolean => {
    const id = runIdOf(name);
    return id !== null && isDeadRun(id);
  };
  // Domains first: they hold TAPs open; bridges before links so no port dangles.
  for (const name of (await listDomains()).filter(dead)) await removeDomain(name);
  for (const name of (await listBridges()).filter(dead)) await deleteBridge(name);
  for (const name of (await listLinks()).filter(dead)) await deleteLink(name);
  for (const name of (await listNetns()).filter(dead)) await deleteNetns(name);
  for (const entry of readdirSync(tmpdir())) {
    const id = entry.startsWith(TMP_PREFIX) ? entry.slice(TMP_PREFIX.length, TMP_PREFIX.length + 4) : null;
    if (id !== null && id !== runId && isDeadRun(id)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
  forgetDeadRuns();
}
