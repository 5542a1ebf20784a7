// The tiny test guest (scripts/build-guest-image.sh, test/fixtures/guest/) as a
// libvirt domain: kernel + initramfs boot, NICs on pre-made TAPs, serial to a file.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestImageDir } from './prereq.js';

export type DomainType = 'kvm' | 'qemu';

export interface GuestNic {
  readonly tap: string;
  readonly mac: string;
  /** Address the guest's init puts on the NIC with this MAC, e.g. 198.51.100.11/24. */
  readonly cidr: string;
}

export interface GuestSpec {
  readonly name: string;
  readonly domainType: DomainType;
  readonly nics: readonly GuestNic[];
  readonly serialLog: string;
  /** NICs the guest should configure if they are hot-plugged later. */
  readonly laterNics?: readonly Omit<GuestNic, 'tap'>[];
}

const READY = /vifd-guest: ready/;
export const GUEST_READY = READY;
export const nicUpLine = (mac: string): RegExp =>
  new RegExp(`vifd-guest: nic \\S+ mac ${mac.toLowerCase()} addr \\S+ up`);

export const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

export function guestKernelCmdline(nics: readonly Omit<GuestNic, 'tap'>[]): string {
  return ['console=ttyS0', 'quiet', ...nics.map((nic) => `vifd.nic=${nic.mac.toLowerCase()},${nic.cidr}`)].join(' ');
}

export function interfaceXml(nic: Pick<GuestNic, 'tap' | 'mac'>): string {
  return `<interface type='ethernet'><mac address='${escapeXml(nic.mac)}'/>` +
    `<target dev='${escapeXml(nic.tap)}' managed='no'/><model type='virtio'/></interface>`;
}

export function guestDomainXml(spec: GuestSpec): string {
  const dir = guestImageDir();
  const cmdline = guestKernelCmdline([...spec.nics, ...(spec.laterNics ?? [])]);
  return `<domain type='${spec.domainType}'>
  <name>${escapeXml(spec.name)}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${escapeXml(join(dir, 'vmlinuz'))}</kernel>
    <initrd>${escapeXml(join(dir, 'initrd.img'))}</initrd>
    <cmdline>${escapeXml(cmdline)}</cmdline>
  </os>
  <!-- ACPI: without it the 'pc' machine's PCI bus cannot hot-plug NICs. -->
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    ${spec.nics.map(interfaceXml).join('\n    ')}
    <serial type='file'><source path='${escapeXml(spec.serialLog)}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

const VERDICT_FILE = '/run/vifd-test/domain-type';

export function cachedDomainType(): DomainType | null {
  const forced = process.env.VIFD_TEST_DOMAIN_TYPE;
  if (forced === 'kvm' || forced === 'qemu') return forced;
  if (!existsSync('/dev/kvm')) return 'qemu';
  if (!existsSync(VERDICT_FILE)) return null;
  const saved = readFileSync(VERDICT_FILE, 'utf8').trim();
  return saved === 'kvm' || saved === 'qemu' ? saved : null;
}

/** Remembers, until the host reboots (/run), whether KVM can boot the test guest. */
export function saveDomainType(type: DomainType): void {
  mkdirSync('/run/vifd-test', { recursive: true });
  writeFileSync(VERDICT_FILE, `${type}\n`);
}
