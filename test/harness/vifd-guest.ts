// Test guests whose VIFs vifd owns: the definition carries vifd's intent and
// is defined with `vifctl define` (which renders the interfaces), then started
// with virsh, so libvirt runs the installed hook and the daemon plugs the VIFs.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { KVM_MAC_PREFIX, deterministicMac, parseMacPrefix } from '../../src/model/mac.js';
import { deviceName } from '../../src/model/names.js';
import type { DaemonProcess } from './daemon.js';
import { vifctlCommand } from './programs.js';
import { run, tryRun } from './exec.js';
import type { RunResult } from './exec.js';
import { escapeXml, guestDomainXml } from './guest.js';
import { LIBVIRT_URI, removeDomain, waitForSerialLine } from './libvirt.js';
import type { Lab } from './lab.js';
import { uniqueName } from './names.js';
import { deleteLink } from './net.js';

export interface VifdNic {
  readonly network: string;
  /** The address the guest puts on this NIC. */
  readonly cidr: string;
}

export interface VifdGuest {
  readonly name: string;
  readonly uuid: string;
  readonly xmlPath: string;
  readonly serialLog: string;
  /** Per VIF index (later NICs included): the MAC vifd derives (invariant 6) and the device name. */
  readonly macs: readonly string[];
  readonly devices: readonly string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** The guest definition with vifd intent and no interfaces (vifctl renders them). */
export function vifdGuestXml(spec: { name: string; uuid: string; nics: readonly VifdNic[]; vifLimit?: number; domainType: 'kvm' | 'qemu'; serialLog: string;
  /** NICs hot-plugged later (indexes after `nics`): the guest configures them when they appear. */
  laterNics?: readonly VifdNic[]; }): string {
  const prefix = parseMacPrefix(KVM_MAC_PREFIX);
  const all = [...spec.nics, ...(spec.laterNics ?? [])];
  const macs = all.map((_, index) => deterministicMac({ vmUuid: spec.uuid, index, prefix }).mac);
  const base = guestDomainXml({ name: spec.name, domainType: spec.domainType, nics: [], serialLog: spec.serialLog,
    laterNics: all.map((nic, index) => ({ mac: macs[index] ?? '', cidr: nic.cidr })) });
  const limit = spec.vifLimit === undefined ? '' : `<vifd:vif-limit>${spec.vifLimit}</vifd:vif-limit>`;
  const intent = `<uuid>${spec.uuid}</uuid>\n  <metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">${limit}` +
    `${spec.nics.map((nic) => `<vifd:vif network="${escapeXml(nic.network)}"/>`).join('')}</vifd:vifd></metadata>`;
  return base.replace('</name>', `</name>\n  ${intent}`);
}

/** Writes the definition, defines it with vifctl, and registers its removal. */
export async function defineVifdGuest(lab: Lab, daemon: DaemonProcess, nics: readonly VifdNic[],
  options: { name?: string; vifLimit?: number; laterNics?: readonly VifdNic[] } = {}): Promise<VifdGuest> {
  const name = options.name ?? uniqueName('domain');
  const uuid = randomUUID();
  const fileStem = uniqueName('domain');
  const serialLog = lab.scratchPath(`${fileStem}.serial.log`);
  const xmlPath = lab.scratchPath(`${fileStem}.xml`);
  const domainType = await lab.guestDomainType();
  const prefix = parseMacPrefix(KVM_MAC_PREFIX);
  const all = [...nics, ...(options.laterNics ?? [])];
  const devices = all.map((_, index) => deviceName(uuid, index));
  lab.defer(`VIF devices of ${name}`, async () => { for (const device of devices) await deleteLink(device); });
  lab.defer(`domain ${name}`, () => removeDomain(uuid));
  writeFileSync(xmlPath, vifdGuestXml({ name, uuid, nics, domainType, serialLog, laterNics: options.laterNics ?? [],
    ...(options.vifLimit === undefined ? {} : { vifLimit: options.vifLimit }) }));
  await run([...vifctlCommand(), 'define', xmlPath, '--config', daemon.configPath]);
  return {
    name, uuid, xmlPath, serialLog, devices,
    macs: all.map((_, index) => deterministicMac({ vmUuid: uuid, index, prefix }).mac),
    waitFor: (pattern, timeoutMs = 90_000) => waitForSerialLine(serialLog, pattern, timeoutMs),
  };
}

const virsh = (...args: string[]): string[] => ['virsh', '-q', '-c', LIBVIRT_URI, ...args];

/** virsh start; the result is returned so a test can read a refusal. */
export const startDomain = (uuid: string): Promise<RunResult> => tryRun(virsh('start', uuid), { timeoutMs: 120_000 });
export const destroyDomain = (uuid: string): Promise<RunResult> => tryRun(virsh('destroy', uuid), { timeoutMs: 60_000 });

/** Polls `check` until it holds; the error names what was awaited. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
