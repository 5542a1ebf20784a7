// Network devices vifd does not make but configures (Xen's netback vifD.N,
// the toolstack's tapD.N): whether one exists and its link state, from sysfs
// (a root parameter, so tests use a fixture tree), and its MAC, MTU and up
// flag set through ioctls on a socket (no process per device, no `ip`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMac } from '../model/mac.js';
import { assertValidInterfaceName, isValidInterfaceName } from '../model/names.js';
import { HostOperationError } from './errors.js';
import { IFF_UP, LinkIoctls } from './link-ioctl.js';

export const SYS_CLASS_NET = '/sys/class/net';

const ENODEV = 19;

/** A device's link as the kernel has it. */
export interface LinkState {
  readonly mac: string;
  readonly mtu: number;
  readonly up: boolean;
}

/** What to make true of a link; an absent field is left as it is. */
export type LinkSettings = Partial<LinkState>;

export class NetDevices {
  private readonly links = new LinkIoctls('device');

  constructor(private readonly root = SYS_CLASS_NET) {}

  exists(name: string): boolean {
    // A name that is not an interface name (a "..", a "/") is never looked up as a path.
    return isValidInterfaceName(name) && this.sysfs(name, 'ifindex') !== null;
  }

  /** The device's MAC, MTU and up flag; null when there is no such device (or it went while read). */
  read(name: string): LinkState | null {
    if (!isValidInterfaceName(name)) return null;
    const [mac, mtu, flags] = [this.sysfs(name, 'address'), this.sysfs(name, 'mtu'), this.sysfs(name, 'flags')];
    if (mac === null || mtu === null || flags === null || mac === '') return null;
    return { mac, mtu: Number(mtu), up: (Number.parseInt(flags, 16) & IFF_UP) !== 0 };
  }

  /**
   * Makes the link as asked where it differs and returns the fields it
   * changed. A MAC is changed with the link down (netback refuses a live
   * change), as Xen's scripts do it; the link is then brought to the state asked.
   */
  configure(nameInput: string, want: LinkSettings): string[] {
    const name = assertValidInterfaceName(nameInput, 'device');
    const current = this.read(name);
    if (current === null) throw new HostOperationError(`device ${name} does not exist`, { field: 'device' });
    const changed: string[] = [];
    const mac = want.mac === undefined ? undefined : parseMac(want.mac, 'mac');
    let up = current.up;
    if (mac !== undefined && mac !== current.mac) {
      if (up) up = this.links.setUp(name, false);
      this.links.setMac(name, mac);
      changed.push('mac');
    }
    if (want.mtu !== undefined && want.mtu !== current.mtu) {
      this.links.setMtu(name, want.mtu);
      changed.push('mtu');
    }
    const wantUp = want.up ?? current.up;
    if (up !== wantUp) this.links.setUp(name, wantUp);
    if (current.up !== wantUp) changed.push('up');
    return changed;
  }

  /** Takes the link down; false when the device is already gone (netback removes it with its domain). */
  down(name: string): boolean {
    if (!this.exists(name)) return false;
    try {
      this.links.setUp(name, false);
      return true;
    } catch (error) {
      if (error instanceof HostOperationError && error.context.value === ENODEV) return false;
      throw error;
    }
  }

  /** Releases the control socket. */
  close(): void {
    this.links.close();
  }

  private sysfs(name: string, attribute: string): string | null {
    try {
      return readFileSync(join(this.root, name, attribute), 'utf8').trim();
    } catch (error) {
      // A device removed between two reads answers ENOENT or ENODEV.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR') return null;
      throw error;
    }
  }
}
