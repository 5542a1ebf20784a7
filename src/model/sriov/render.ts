// Rendering an SR-IOV VIF as libvirt's <interface type='hostdev'> from
// xml-templates/hostdev-interface.xml (the caller reads the template; pure).
import { InvalidInputError } from '../errors.js';
import { parseMac } from '../mac.js';
import { escapeXml } from '../xml-text.js';
import { parseVlanId } from '../vlan.js';
import { parsePciAddress, pciAddressParts } from './pci.js';
import type { PciAddress } from './pci.js';

/** The hostdev interface template, found from the build (dist/src/model/sriov) like from the sources. */
export const HOSTDEV_TEMPLATE = new URL('../../../../xml-templates/hostdev-interface.xml', import.meta.url);

/** libvirt's <driver name>: vfio for QEMU/KVM, xen for libxl (pciback). */
export type HostdevDriver = 'vfio' | 'xen';
export const HOSTDEV_DRIVERS: readonly HostdevDriver[] = ['vfio', 'xen'];

export interface HostdevVif {
  readonly mac: string;
  readonly address: PciAddress;
  /** The access VLAN the VF tags; undefined = untagged. */
  readonly vlan?: number;
  readonly driver: HostdevDriver;
}

const hex = (value: number, width: number): string => `0x${value.toString(16).padStart(width, '0')}`;

/** Fills the template; values are validated again here because the output goes to libvirt as is. */
export function renderHostdevInterface(template: string, vif: HostdevVif): string {
  const address = pciAddressParts(parsePciAddress(vif.address, 'vf address'));
  // Typed, but the value may come from untrusted JSON at run time.
  if (!(HOSTDEV_DRIVERS as readonly string[]).includes(vif.driver)) {
    throw new InvalidInputError(`${JSON.stringify(vif.driver)} is not a hostdev driver (vfio, xen)`, { field: 'driver', value: vif.driver });
  }
  const vlan = vif.vlan === undefined ? undefined : parseVlanId(vif.vlan, 'vlan');
  const values: Record<string, string> = {
    mac: escapeXml(parseMac(vif.mac)),
    driver: vif.driver,
    domain: hex(address.domain, 4),
    bus: hex(address.bus, 2),
    slot: hex(address.slot, 2),
    function: hex(address.function, 1),
    vlan: vlan === undefined ? '' : `\n  <vlan>\n    <tag id='${vlan}'/>\n  </vlan>`,
  };
  return template
    .replace(/^\s*<!--[\s\S]*?-->\s*/, '')
    .replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole)
    .trim();
}
