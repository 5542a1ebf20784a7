// PCI addresses of SR-IOV functions as sysfs names them (0000:01:10.2). Every
// address comes from config or from a sysfs link: anything else is refused.
import { InvalidInputError, describeValue } from '../errors.js';

/** A PCI address in sysfs form: domain:bus:slot.function, lowercase hex. */
export type PciAddress = string & { readonly __pci: unique symbol };

export interface PciAddressParts {
  readonly domain: number;
  readonly bus: number;
  readonly slot: number;
  readonly function: number;
}

const FULL = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;
/** The kernel's slot field has 5 bits. */
const MAX_SLOT = 0x1f;

export function parsePciAddress(input: unknown, field = 'pci address'): PciAddress {
  const match = typeof input === 'string' ? FULL.exec(input) : null;
  if (match === null || Number.parseInt(match[3] ?? '', 16) > MAX_SLOT) {
    throw new InvalidInputError(`${describeValue(input)} is not a PCI address (like 0000:03:10.2)`, { field, value: input });
  }
  return (input as string).toLowerCase() as PciAddress;
}

export const isPciAddress = (input: unknown): input is PciAddress =>
  typeof input === 'string' && FULL.test(input) && input === input.toLowerCase() && Number.parseInt(input.slice(8, 10), 16) <= MAX_SLOT;

export function pciAddressParts(address: PciAddress): PciAddressParts {
  const [, domain = '', bus = '', slot = '', fn = ''] = FULL.exec(address) ?? [];
  return { domain: Number.parseInt(domain, 16), bus: Number.parseInt(bus, 16), slot: Number.parseInt(slot, 16), function: Number(fn) };
}

/** Sorts addresses as the bus enumerates them (same width, so text order is bus order). */
export const comparePciAddresses = (a: PciAddress, b: PciAddress): number => (a < b ? -1 : a > b ? 1 : 0);
