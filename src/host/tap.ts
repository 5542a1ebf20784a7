// Persistent TAP devices through /dev/net/tun ioctls: no process per device,
// so bulk plugs cost microseconds per TAP (host-notes: 1000 in 0.66 s). Every
// operation is repeat-safe: ensure succeeds when the TAP is already as asked,
// delete succeeds when it is already gone, and a failed create leaves nothing.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseMac } from '../model/mac.js';
import { assertValidInterfaceName } from '../model/names.js';
import { DeviceConflictError, HostOperationError } from './errors.js';
import * as libc from './libc.js';
import { IFF_UP, IFREQ_UNION, LinkIoctls, ifreq, linkCallFailed } from './link-ioctl.js';
import { faultPoint } from '../common/fault-points.js';

// linux/if_tun.h, linux/sockios.h, linux/if.h (checked against the headers).
const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const TUNSETOWNER = 0x400454cc;
const TUNSETGROUP = 0x400454ce;
const IFF_TUN = 0x0001;
const IFF_TAP = 0x0002;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;

export interface TapSpec {
  readonly name: string;
  readonly multiQueue?: boolean;
  readonly vnetHdr?: boolean;
  /** uid/gid allowed to attach (QEMU's user when it does not run as root). */
  readonly owner?: number;
  readonly group?: number;
  readonly mac?: string;
  readonly mtu?: number;
  /** Default true. */
  readonly up?: boolean;
  /**
   * The link's ifalias: vifd marks its TAPs with it, so ownership lives on the
   * device itself and a TAP whose port is gone can still be told apart.
   */
  readonly alias?: string;
}

export interface TapState {
  readonly name: string;
  readonly multiQueue: boolean;
  readonly vnetHdr: boolean;
  readonly owner: number | null;
  readonly group: number | null;
  readonly mac: string;
  readonly mtu: number;
  readonly up: boolean;
  readonly alias: string | null;
}

export interface EnsureResult {
  readonly created: boolean;
  /** Settings that were repaired on an existing TAP (mac, mtu, up). */
  readonly changed: readonly string[];
}

const fail = (name: string, call: string, code?: number): never => linkCallFailed('TAP', name, call, code);

const tunFlags = (spec: Pick<TapSpec, 'multiQueue' | 'vnetHdr'>): number =>
  IFF_TAP | IFF_NO_PI | (spec.multiQueue === true ? IFF_MULTI_QUEUE : 0) | (spec.vnetHdr === true ? IFF_VNET_HDR : 0);

/**
 * How long a listing of /sys/class/net is reused. Reading it costs ~7 ms at
 * 4,000 links, and a GC or a full reconcile looks at thousands of VMs' TAPs in
 * a moment; vifd's own creations and deletions update the cached names, and a
 * name that went away meanwhile is simply not found when its state is read.
 */
const LINK_NAMES_TTL_MS = 250;

export class TapDevices {
  private readonly links = new LinkIoctls('TAP');
  private linkNames: { readonly at: number; readonly names: Set<string> } | null = null;

  /** `sysfsRoot` is a parameter so tests can read a fixture tree. */
  constructor(private readonly sysfsRoot = '/sys') {}

  private sysfs(name: string, attribute: string): string | null {
    try {
      return readFileSync(join(this.sysfsRoot, 'class/net', name, attribute), 'utf8').trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  exists(name: string): boolean {
    return this.sysfs(name, 'ifindex') !== null;
  }

  /** The TAP's state, null when no such device exists; a non-TAP device is a conflict. */
  read(name: string): TapState | null {
    if (!this.exists(name)) return null;
    const flags = this.tapFlags(name);
    if (flags === null) throw new DeviceConflictError(`${name} exists and is not a TAP device`, { field: 'tap' });
    return this.stateOf(name, flags);
  }

  /** The device's tun_flags when it is a TAP, null for any other link (or none). */
  private tapFlags(name: string): number | null {
    const text = this.sysfs(name, 'tun_flags');
    const flags = text === null ? 0 : Number.parseInt(text, 16);
    return (flags & IFF_TAP) === 0 ? null : flags;
  }

  private stateOf(name: string, tun: number): TapState {
    const id = (text: string | null): number | null => (text === null || text === '-1' ? null : Number(text));
    return {
      name,
      multiQueue: (tun & IFF_MULTI_QUEUE) !== 0,
      vnetHdr: (tun & IFF_VNET_HDR) !== 0,
      owner: id(this.sysfs(name, 'owner')),
      group: id(this.sysfs(name, 'group')),
      mac: this.sysfs(name, 'address') ?? '',
      mtu: Number(this.sysfs(name, 'mtu')),
      up: (Number.parseInt(this.sysfs(name, 'flags') ?? '0', 16) & IFF_UP) !== 0,
      alias: this.sysfs(name, 'ifalias') || null,
    };
  }

  /**
   * Every TAP on the host (TUN devices and other links are left out), or only
   * those whose name passes `select`: reading a device costs several sysfs
   * files, so a caller that knows which names it wants says so.
   */
  list(select: (name: string) => boolean = () => true): TapState[] {
    return this.statesOf([...this.currentLinkNames()].filter(select));
  }

  /**
   * Like list, from the link names this process knows without listing sysfs
   * again: the last listing, kept current by its own creations and deletions.
   * A per-VM look on a host of thousands of links then costs what that VM has,
   * not what the host has. A TAP made by another process since the last
   * listing is not seen until the next full one (GC and full reconciles list).
   */
  listKnown(select: (name: string) => boolean): TapState[] {
    const selected: string[] = [];
    // Walked in place: a copy of thousands of names per plug is garbage the GC pays for.
    for (const name of this.linkNames?.names ?? this.currentLinkNames()) if (select(name)) selected.push(name);
    return this.statesOf(selected);
  }

  private statesOf(names: readonly string[]): TapState[] {
    return names.flatMap((name) => {
      // On a busy host devices come and go between readdir and each read (sysfs then
      // answers ENOENT, ENODEV or EINVAL, or the name is already another kind of
      // device's): such a device is left out of this look, the next one sees it as it is.
      try {
        const flags = this.tapFlags(name);
        if (flags === null) return [];
        const state = this.stateOf(name, flags);
        // Attributes of a device removed mid-read come back empty: it is not listed.
        return this.exists(name) ? [state] : [];
      } catch (error) {
        if (typeof (error as NodeJS.ErrnoException).code === 'string') return [];
        throw error;
      }
    });
  }

  private currentLinkNames(): ReadonlySet<string> {
    const now = performance.now();
    if (this.linkNames === null || now - this.linkNames.at > LINK_NAMES_TTL_MS) {
      this.linkNames = { at: now, names: new Set(readdirSync(join(this.sysfsRoot, 'class/net'))) };
    }
    return this.linkNames.names;
  }

  ensure(spec: TapSpec): EnsureResult {
    const name = assertValidInterfaceName(spec.name, 'tap');
    const mac = spec.mac === undefined ? undefined : parseMac(spec.mac);
    const existing = this.read(name);
    if (existing === null) {
      this.create(name, spec);
      try {
        // create() wrote the alias already.
        this.configure(name, { ...spec, mac, alias: undefined }, null);
      } catch (error) {
        this.delete(name); // a TAP with half its settings must not stay behind
        throw error;
      }
      return { created: true, changed: [] };
    }
    this.assertCompatible(existing, spec);
    return { created: false, changed: this.configure(name, { ...spec, mac }, existing) };
  }

  private assertCompatible(existing: TapState, spec: TapSpec): void {
    const differences: string[] = [];
    if (existing.multiQueue !== (spec.multiQueue === true)) differences.push(`multi_queue is ${existing.multiQueue}`);
    // Whoever attaches (QEMU, or libvirt for it) sets vnet_hdr on the device, so
    // a running VM's TAP shows it: compare only when the caller asks for one.
    if (spec.vnetHdr !== undefined && existing.vnetHdr !== spec.vnetHdr) differences.push(`vnet_hdr is ${existing.vnetHdr}`);
    if (existing.owner !== (spec.owner ?? null)) differences.push(`owner is ${String(existing.owner)}`);
    if (existing.group !== (spec.group ?? null)) differences.push(`group is ${String(existing.group)}`);
    if (differences.length > 0) {
      throw new DeviceConflictError(`TAP ${existing.name} exists with other settings (${differences.join(', ')})`, { field: 'tap' });
    }
  }

  private create(name: string, spec: TapSpec): void {
    const fd = libc.open('/dev/net/tun', libc.O_RDWR | libc.O_CLOEXEC);
    if (fd < 0) fail(name, 'open /dev/net/tun');
    try {
      const request = ifreq(name);
      request.writeUInt16LE(tunFlags(spec), IFREQ_UNION);
      if (libc.ioctlPointer(fd, TUNSETIFF, request) < 0) fail(name, 'TUNSETIFF');
      faultPoint('tap-created');
      if (spec.owner !== undefined && libc.ioctlValue(fd, TUNSETOWNER, spec.owner) < 0) fail(name, 'TUNSETOWNER');
      if (spec.group !== undefined && libc.ioctlValue(fd, TUNSETGROUP, spec.group) < 0) fail(name, 'TUNSETGROUP');
      // Ownership is marked while the device still dies with this fd: a crash at any
      // point leaves either no TAP or a marked one that GC recognises, never an unmarked leak.
      if (spec.alias !== undefined) this.writeAlias(name, spec.alias);
      faultPoint('tap-marked');
      // Until this succeeds, closing the fd removes the device: nothing half-made survives.
      if (libc.ioctlValue(fd, TUNSETPERSIST, 1) < 0) fail(name, 'TUNSETPERSIST');
      this.linkNames?.names.add(name);
      faultPoint('tap-persisted');
    } finally {
      libc.close(fd);
    }
  }

  /** Applies MAC, MTU and up where they differ; returns what it changed. */
  private configure(name: string, spec: TapSpec, current: TapState | null): string[] {
    const changed: string[] = [];
    if (spec.mac !== undefined && current?.mac !== spec.mac) {
      this.links.setMac(name, spec.mac);
      changed.push('mac');
    }
    if (spec.mtu !== undefined && current?.mtu !== spec.mtu) {
      this.links.setMtu(name, spec.mtu);
      changed.push('mtu');
    }
    if (spec.alias !== undefined && (current?.alias ?? '') !== spec.alias) {
      this.writeAlias(name, spec.alias);
      if (current !== null) changed.push('alias');
    }
    const up = spec.up ?? true;
    if (current?.up !== up) {
      this.links.setUp(name, up);
      if (current !== null) changed.push('up');
    }
    return current === null ? [] : changed;
  }

  private writeAlias(name: string, alias: string): void {
    // The kernel keeps at most IFALIASZ-1 (255) bytes and stops at a newline.
    if (Buffer.byteLength(alias) > 255 || alias.includes('\n')) {
      throw new HostOperationError(`TAP ${name}: alias ${JSON.stringify(alias)} is longer than 255 bytes or has a newline`);
    }
    try {
      writeFileSync(join(this.sysfsRoot, 'class/net', name, 'ifalias'), alias);
    } catch (error) {
      throw new HostOperationError(`TAP ${name}: writing ifalias failed: ${(error as Error).message}`, {}, { cause: error });
    }
  }

  /** Removes a TAP; false when it was already gone. Refuses non-TAP devices. */
  delete(nameInput: string): boolean {
    const name = assertValidInterfaceName(nameInput, 'tap');
    const flags = this.sysfs(name, 'tun_flags');
    if (flags === null) {
      if (!this.exists(name)) return false;
      throw new DeviceConflictError(`${name} is not a TAP device; vifd will not delete it`, { field: 'tap' });
    }
    const fd = libc.open('/dev/net/tun', libc.O_RDWR | libc.O_CLOEXEC);
    if (fd < 0) fail(name, 'open /dev/net/tun');
    try {
      const request = ifreq(name);
      // Re-attaching needs the device's own flags (multi-queue must match).
      const own = Number.parseInt(flags, 16) & (IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR);
      request.writeUInt16LE(own, IFREQ_UNION);
      if (libc.ioctlPointer(fd, TUNSETIFF, request) < 0) {
        const code = libc.errno();
        if (!this.exists(name)) return false; // removed by someone else meanwhile
        fail(name, 'TUNSETIFF (is a VM still using it?)', code);
      }
      if (libc.ioctlValue(fd, TUNSETPERSIST, 0) < 0) fail(name, 'TUNSETPERSIST 0');
    } finally {
      libc.close(fd); // the last close of a non-persistent TAP removes it
    }
    this.linkNames?.names.delete(name);
    return true;
  }

  /** Releases the control socket. */
  close(): void {
    this.links.close();
  }
}
