// Whether a network device exists, from sysfs (a root parameter, so tests use
// a fixture tree). Xen's netback and toolstack make the devices vifd plugs;
// vifd only needs to know whether one is still there.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isValidInterfaceName } from '../model/names.js';

export const SYS_CLASS_NET = '/sys/class/net';

export class NetDevices {
  constructor(private readonly root = SYS_CLASS_NET) {}

  exists(name: string): boolean {
    // A name that is not an interface name (a "..", a "/") is never looked up as a path.
    return isValidInterfaceName(name) && existsSync(join(this.root, name));
  }
}
