// The igb PF inside the SR-IOV test guest as the host test drives it: thin
// typed wrappers over the agent's operations (operations.ts).
import type { PfDevice, VfDevice } from '../../../src/host/sriov/sysfs.js';
import type { LinkInfo } from '../../../src/host/sriov/rtnetlink-codec.js';
import type { VfAttribute, VfNetConfig } from '../../../src/model/sriov/vf-settings.js';
import { vfsFromIpJson } from './ip-json.js';
import type { ProgramResult } from './operations.js';
import type { IgbGuest } from './vm.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class GuestPf {
  constructor(readonly guest: IgbGuest, readonly address: string, readonly netdev: string) {}

  /** The first PF the igb driver bound, with its netdev. */
  static async find(guest: IgbGuest): Promise<GuestPf> {
    const [address] = await guest.call<string[]>('igbPfs');
    if (address === undefined) throw new Error(`igb bound no PF in the guest\n${guest.serialLog()}`);
    const pf = await guest.call<PfDevice>('readPf', { address });
    const netdev = pf.netdevs[0];
    if (netdev === undefined) throw new Error(`igb PF ${address} has no netdev`);
    return new GuestPf(guest, address, netdev);
  }

  run(argv: readonly string[], timeoutMs = 30_000): Promise<ProgramResult> {
    return this.guest.call<ProgramResult>('run', { argv, timeoutMs });
  }

  /** Runs argv in the guest and fails with its output unless it exits 0. */
  async ok(argv: readonly string[]): Promise<string> {
    const result = await this.run(argv);
    if (result.code !== 0) throw new Error(`guest: ${argv.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  readPf(): Promise<PfDevice> {
    return this.guest.call<PfDevice>('readPf', { address: this.address });
  }

  async vfDevice(index: number): Promise<VfDevice> {
    const vf = (await this.readPf()).vfs.find((candidate) => candidate.index === index);
    if (vf === undefined) throw new Error(`PF ${this.address} has no VF ${index}`);
    return vf;
  }

  link(): Promise<LinkInfo> {
    return this.guest.call<LinkInfo>('getLink', { ifname: this.netdev });
  }

  /** VF `index` as vifd's rtnetlink reads it. */
  async vf(index: number): Promise<VfNetConfig> {
    const vf = (await this.link()).vfs.find((candidate) => candidate.index === index);
    if (vf === undefined) throw new Error(`the PF driver reports no VF ${index}`);
    return vf;
  }

  /** The VFs as `ip -json -details link show` reads them. */
  async ipVfs(): Promise<VfNetConfig[]> {
    return vfsFromIpJson(await this.ok(['ip', '-json', '-details', 'link', 'show', 'dev', this.netdev]));
  }

  /** vifd's one-attribute set + read back (setVfAttribute); resolves with the VF as read back. */
  setVf(vf: number, attribute: VfAttribute): Promise<VfNetConfig> {
    return this.guest.call<VfNetConfig>('setVf', { pf: this.netdev, vf, attribute });
  }

  /** Writes sysfs directly (what vifd itself refuses to do, like re-creating VFs). */
  writeSysfs(path: string, text: string): Promise<void> {
    return this.guest.call('writeFile', { path, text });
  }

  /** The PF up with carrier: igb refuses a VF rate (EINVAL) while its link speed is unknown. */
  async bringUp(timeoutMs = 30_000): Promise<void> {
    await this.ok(['ip', 'link', 'set', 'dev', this.netdev, 'up']);
    const deadline = Date.now() + timeoutMs;
    while ((await this.guest.call<string>('readFile', { path: `/sys/class/net/${this.netdev}/carrier` }).catch(() => '0')).trim() !== '1') {
      if (Date.now() > deadline) throw new Error(`${this.netdev} has no carrier after ${timeoutMs} ms`);
      await sleep(250);
    }
  }
}
