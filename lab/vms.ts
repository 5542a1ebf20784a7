// The demo VMs: the test guest with vifd intent, defined through the
// installed vifctl (which renders the VIFs and enforces the limit) and booted
// with virsh, so libvirt's hook has the daemon plug every VIF before QEMU
// opens its TAP.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KVM_MAC_PREFIX, deterministicMac, parseMacPrefix } from '../src/model/mac.js';
import { run, tryRun } from '../test/harness/exec.js';
import { GUEST_READY, nicUpLine } from '../test/harness/guest.js';
import type { DomainType } from '../test/harness/guest.js';
import { Lab as HarnessLab } from '../test/harness/lab.js';
import { removeDomain, waitForSerialLine } from '../test/harness/libvirt.js';
import { vifdGuestXml } from '../test/harness/vifd-guest.js';
import { BIG_VM, CONFIG_PATH, LIBVIRT_URI, STATE_DIR, VIFCTL_BIN } from './topology.js';
import type { VmSpec } from './topology.js';
import { LabError, quote, say } from './output.js';

const BOOT_TIMEOUT_MS = 90_000;
// Kernel command line sysctl: answer ARP only for addresses of the NIC asked
// on. Otherwise a VM on both VLANs answers on its v100 NIC for its v200
// address, and the matrix would report a leak that is the guest's doing.
const GUEST_SYSCTLS = 'sysctl.net.ipv4.conf.all.arp_ignore=1';

const virsh = (...args: string[]): string[] => ['virsh', '-q', '-c', LIBVIRT_URI, ...args];

export const macsOf = (vm: VmSpec): string[] =>
  vm.nics.map((_, index) => deterministicMac({ vmUuid: vm.uuid, index, prefix: parseMacPrefix(KVM_MAC_PREFIX) }).mac);

const serialLogOf = (vm: VmSpec): string => join(STATE_DIR, `${vm.name}.serial.log`);

/** KVM where it boots the guest, TCG otherwise; the harness probes once per boot. */
export function guestDomainType(): Promise<DomainType> {
  return new HarnessLab().guestDomainType();
}

/** Writes the VM's definition (vifd intent, no interfaces yet) under STATE_DIR. */
function definitionFile(vm: VmSpec, domainType: DomainType): { path: string } {
  const xml = vifdGuestXml({ name: vm.name, uuid: vm.uuid, domainType, serialLog: serialLogOf(vm),
    nics: vm.nics.map((nic) => ({ network: nic.network, cidr: `${nic.address}/${nic.prefix}` })) })
    .replace('<cmdline>console=ttyS0 ', `<cmdline>console=ttyS0 ${GUEST_SYSCTLS} `);
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o755 });
  const path = join(STATE_DIR, `${vm.name}.xml`);
  writeFileSync(path, xml);
  return { path };
}

async function domainField(args: string[]): Promise<string | null> {
  const result = await tryRun(virsh(...args));
  return result.code === 0 ? result.stdout.trim() : null;
}

/** What must match for a running VM to be kept: its domain type, kernel command line and MACs. */
function bootIdentity(xml: string): string {
  const type = /<domain type='([^']+)'/.exec(xml)?.[1] ?? '';
  const cmdline = /<cmdline>([^<]*)<\/cmdline>/.exec(xml)?.[1] ?? '';
  const macs = [...xml.matchAll(/<mac address='([^']+)'/g)].map((match) => match[1]).join(',');
  return `${type}|${cmdline}|${macs}`;
}

/** Clears the way for a definition: another domain holding the name or the UUID goes. */
async function clearConflicts(vm: VmSpec): Promise<void> {
  const uuidOfName = await domainField(['domuuid', vm.name]);
  if (uuidOfName !== null && uuidOfName !== vm.uuid) {
    say(`${vm.name}: a domain of that name has another UUID (${uuidOfName}); removing it`);
    await removeDomain(vm.name);
  }
  const nameOfUuid = await domainField(['domname', vm.uuid]);
  if (nameOfUuid !== null && nameOfUuid !== vm.name) {
    say(`${vm.name}: its UUID belongs to domain ${JSON.stringify(nameOfUuid)}; removing that`);
    await removeDomain(vm.uuid);
  }
}

/** Defines (again) and starts one VM, keeping it when it already runs as defined. */
async function defineAndStart(vm: VmSpec, domainType: DomainType): Promise<void> {
  const { path } = definitionFile(vm, domainType);
  await clearConflicts(vm);
  const running = (await domainField(['domstate', vm.name])) === 'running';
  const defined = await tryRun([VIFCTL_BIN, 'define', path, '--config', CONFIG_PATH], { timeoutMs: 60_000 });
  if (defined.code !== 0) throw new LabError(`vifctl define ${vm.name} failed:\n${defined.stdout}${defined.stderr}`);
  quote(defined.stdout);
  if (running) {
    const live = await run(virsh('dumpxml', vm.name));
    const wanted = await run(virsh('dumpxml', '--inactive', vm.name));
    if (bootIdentity(live) === bootIdentity(wanted)) {
      say(`${vm.name} already runs as defined: kept running`);
      return;
    }
    say(`${vm.name} runs an older definition: restarting it`);
    await run(virsh('destroy', vm.name), { timeoutMs: 60_000 });
  }
  // libvirt truncates the serial file on start; removed anyway so a line
  // seen later cannot be one from an earlier boot.
  rmSync(serialLogOf(vm), { force: true });
  const started = await tryRun(virsh('start', vm.name), { timeoutMs: 120_000 });
  if (started.code !== 0) throw new LabError(`virsh start ${vm.name} failed: ${started.stderr.trim()}`);
  say(`${vm.name} started (domain type ${domainType})`);
}

/** Waits until the guest reports every NIC up; returns the line to print. */
async function waitForNics(vm: VmSpec): Promise<string> {
  try {
    await waitForSerialLine(serialLogOf(vm), GUEST_READY, BOOT_TIMEOUT_MS);
    for (const mac of macsOf(vm)) await waitForSerialLine(serialLogOf(vm), nicUpLine(mac), BOOT_TIMEOUT_MS);
  } catch (error) {
    throw new LabError(`${vm.name} did not bring its NICs up: ${error instanceof Error ? error.message : String(error)}`);
  }
  const addresses = vm.nics.map((nic) => `${nic.address}/${nic.prefix} on ${nic.network}`).join(', ');
  return `${vm.name} is up: ${addresses} (serial log ${serialLogOf(vm)})`;
}

export async function startVms(vms: readonly VmSpec[]): Promise<void> {
  const domainType = await guestDomainType();
  for (const vm of vms) await defineAndStart(vm, domainType);
  // Waited for together (they boot in parallel), reported in a fixed order.
  for (const line of await Promise.all(vms.map(waitForNics))) say(line);
}

/** vifctl must refuse the 8-VIF VM; its refusal is part of the demo. */
export async function showRefusal(): Promise<void> {
  await removeDomain(BIG_VM.name);
  const { path } = definitionFile(BIG_VM, await guestDomainType());
  say(`${BIG_VM.name} asks for ${BIG_VM.nics.length} VIFs, one over the limit; vifctl define must refuse it:`);
  const result = await tryRun([VIFCTL_BIN, 'define', path, '--config', CONFIG_PATH], { timeoutMs: 60_000 });
  const line = result.stdout.trim();
  if (result.code === 1 && line.startsWith('refused: ')) {
    quote(`${line}   <- expected: refused, exit 1`);
    return;
  }
  await removeDomain(BIG_VM.name);
  throw new LabError(`vifctl define ${BIG_VM.name} was expected to refuse (exit 1), got exit ${String(result.code)}:\n${result.stdout}${result.stderr}`);
}

/** destroy + undefine by name; already gone is fine. */
export async function removeVm(vm: VmSpec): Promise<boolean> {
  const existed = (await domainField(['domuuid', vm.name])) !== null;
  await removeDomain(vm.name);
  return existed;
}

export async function labDomainsLeft(names: readonly string[]): Promise<string[]> {
  const all = (await run(virsh('list', '--all', '--name'))).split('\n').map((line) => line.trim());
  return names.filter((name) => all.includes(name));
}
