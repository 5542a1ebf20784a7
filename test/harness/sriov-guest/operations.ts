// What the host test can ask the agent in the SR-IOV test guest to do: vifd's
// real VF code (sysfs discovery, rtnetlink set + read back, the network pool)
// on the real igb PF driver, raw sysfs access for what vifd must not do itself
// (re-creating VFs), and programs (ip -json, ping) run with argv arrays.
import { execFile } from 'node:child_process';
import { readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KernelVfNetlink } from '../../../src/host/sriov/netlink.js';
import { SriovNetworkPool } from '../../../src/host/sriov/network-pool.js';
import type { ReleaseProof, VifOwner } from '../../../src/host/sriov/network-pool-types.js';
import { VfSnapshotStore } from '../../../src/host/sriov/snapshots.js';
import { SriovSysfs } from '../../../src/host/sriov/sysfs.js';
import { setVfAttribute } from '../../../src/host/sriov/vf-config.js';
import { parseSriovConfig } from '../../../src/model/sriov/config.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import type { VfAttribute } from '../../../src/model/sriov/vf-settings.js';
import type { VlanSettings } from '../../../src/model/vlan.js';

/** Where the guest's pools keep their restore snapshots (tmpfs, like /run/vifd on a host). */
export const GUEST_SNAPSHOT_DIR = '/run/vifd-test/sriov';

type Args = Record<string, unknown>;

const text = (args: Args, key: string): string => {
  const value = args[key];
  if (typeof value !== 'string') throw new TypeError(`argument ${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
};
const count = (args: Args, key: string): number => {
  const value = args[key];
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`argument ${key} must be an integer, got ${JSON.stringify(value)}`);
  return value;
};

export interface ProgramResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runProgram(argv: readonly string[], timeoutMs: number): Promise<ProgramResult> {
  const [command, ...rest] = argv;
  if (command === undefined) throw new TypeError('run: empty argv');
  return new Promise((resolve) => {
    execFile(command, rest, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr: error !== null && code === -1 ? `${stderr}${error.message}` : stderr });
    });
  });
}

export class GuestOperations {
  private readonly sysfs = new SriovSysfs('/sys');
  private readonly netlink = KernelVfNetlink.open();
  private readonly pools = new Map<string, SriovNetworkPool>();
  private readonly log: string[] = [];

  private pool(args: Args): SriovNetworkPool {
    const name = text(args, 'network');
    const pool = this.pools.get(name);
    if (pool === undefined) throw new Error(`no pool ${name} (openPool first)`);
    return pool;
  }

  private async pfLink(args: Args): Promise<{ ifindex: number; name: string }> {
    const name = text(args, 'pf');
    return { ifindex: (await this.netlink.getLink({ ifname: name })).ifindex, name };
  }

  private readonly table: Record<string, (args: Args) => Promise<unknown>> = {
    /** The PCI addresses bound to the igb PF driver. */
    igbPfs: async () => (await readdir('/sys/bus/pci/drivers/igb')).filter((entry) => /^[0-9a-f]{4}:/.test(entry)).sort(),
    pfAddress: (args) => this.sysfs.pfAddress({ kind: 'netdev', name: text(args, 'netdev') }),
    readPf: (args) => this.sysfs.readPf(parsePciAddress(text(args, 'address'), 'address')),
    physfn: (args) => this.sysfs.physfn(parsePciAddress(text(args, 'address'), 'address')),
    enableVfs: (args) => this.sysfs.enableVfs(parsePciAddress(text(args, 'address'), 'address'), count(args, 'count')),
    bindVf: async (args) => {
      const pf = parsePciAddress(text(args, 'address'), 'address');
      const vf = (await this.sysfs.readPf(pf)).vfs.find((candidate) => candidate.index === count(args, 'vf'));
      if (vf === undefined) throw new Error(`no VF ${count(args, 'vf')} on ${pf}`);
      return this.sysfs.bindVf(pf, vf, text(args, 'driver'));
    },
    pfNetdevUp: (args) => this.sysfs.pfNetdevUp(parsePciAddress(text(args, 'address'), 'address'), text(args, 'netdev')),
    getLink: (args) => this.netlink.getLink({ ifname: text(args, 'ifname') }),
    setVf: async (args) => setVfAttribute(this.netlink, await this.pfLink(args), count(args, 'vf'), args.attribute as VfAttribute),
    openPool: (args) => {
      const name = text(args, 'network');
      const config = parseSriovConfig(args.sriov, args.vlan as VlanSettings, `networks.${name}`);
      this.pools.set(name, new SriovNetworkPool({
        network: name, config, sysfs: this.sysfs, netlink: this.netlink,
        snapshots: new VfSnapshotStore(join(GUEST_SNAPSHOT_DIR, name)), log: (line) => this.log.push(line),
      }));
      return Promise.resolve(config);
    },
    scan: (args) => this.pool(args).scan(),
    poolEntries: (args) => Promise.resolve(this.pool(args).pool.list()),
    assign: (args) => {
      const previous = args.previous === undefined ? {} : { previous: parsePciAddress(args.previous, 'previous') };
      return this.pool(args).assign(args.owner as VifOwner, { mac: text(args, 'mac'), ...previous });
    },
    markAttached: (args) => Promise.resolve(this.pool(args).markAttached(args.owner as VifOwner)),
    release: (args) => this.pool(args).release(args.owner as VifOwner, text(args, 'proof') as ReleaseProof),
    poolLog: () => Promise.resolve(this.log.splice(0)),
    readFile: (args) => readFile(text(args, 'path'), 'utf8'),
    readLink: (args) => readlink(text(args, 'path')),
    listDir: async (args) => (await readdir(text(args, 'path'))).sort(),
    /** One write(2), as `echo > file` does: the kernel's refusals come back as errors with their code. */
    writeFile: (args) => writeFile(text(args, 'path'), text(args, 'text'), { flag: 'w' }),
    run: (args) => runProgram(args.argv as string[], typeof args.timeoutMs === 'number' ? args.timeoutMs : 30_000),
  };

  async call(op: string, args: Args): Promise<unknown> {
    const operation = this.table[op];
    if (operation === undefined) throw new Error(`unknown operation ${op}`);
    return operation(args);
  }

  close(): void {
    this.netlink.close();
  }
}
