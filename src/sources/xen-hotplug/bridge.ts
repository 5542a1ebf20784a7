// The bridge syntax Xen's toolstacks put in xenstore `bridge`:
// BRIDGE[.VLAN][:TRUNK[:TRUNK...]] (xl, libvirt's libxl driver) or a plain
// bridge name (xenopsd's private/vif/N/bridge, e.g. `xenbr0` or a VLAN
// network's fake bridge `xapi3`). Parsed strictly: the value is written by
// whoever controls the VM's configuration, so it is untrusted.
import { InvalidInputError, describeValue } from '../../model/errors.js';
import { MAX_INTERFACE_NAME_BYTES, isValidInterfaceName } from '../../model/names.js';
import { parseVlanId } from '../../model/vlan.js';

export interface XenBridgeSpec {
  /** The bridge as named; on XAPI hosts possibly an OVS fake bridge the daemon resolves. */
  readonly bridge: string;
  /** `.VLAN`: an access port on that VLAN. */
  readonly vlan?: number;
  /** `:T1:T2`: the VLANs the port trunks, sorted. */
  readonly trunks?: readonly number[];
}

/**
 * Bridge names a Xen host uses (xenbr0, xapi3, br-ext, ovs_br0): narrower than
 * what Linux allows, because this name arrives from VM configuration and
 * characters like `;`, `$`, `(` or quotes have no business in it.
 */
const BRIDGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export function parseBridgeName(input: string, field: string): string {
  if (BRIDGE_NAME.test(input) && isValidInterfaceName(input)) return input;
  const bytes = Buffer.byteLength(input, 'utf8');
  const why = input === ''
    ? 'is empty'
    : bytes > MAX_INTERFACE_NAME_BYTES
      ? `is ${bytes} bytes; a bridge name has at most ${MAX_INTERFACE_NAME_BYTES}`
      : `holds ${describeValue(firstBadCharacter(input))}; a bridge name is letters, digits, "-" and "_"`;
  throw new InvalidInputError(`bridge name ${describeValue(input)} ${why}`, { field, value: input });
}

function firstBadCharacter(input: string): string {
  const bad = /^[^A-Za-z0-9]|[^A-Za-z0-9_-]/.exec(input);
  return bad?.[0] ?? input;
}

/** `xenbr0`, `xenbr0.100`, `xenbr0:200:300`, `xenbr0.100:200:300`; anything else is refused naming `field`. */
export function parseXenBridge(input: string, field = 'bridge'): XenBridgeSpec {
  const colon = input.indexOf(':');
  const head = colon === -1 ? input : input.slice(0, colon);
  const trunkText = colon === -1 ? undefined : input.slice(colon + 1);
  const dot = head.indexOf('.');
  const name = parseBridgeName(dot === -1 ? head : head.slice(0, dot), field);
  const vlan = dot === -1 ? undefined : parseVlanId(head.slice(dot + 1), field);
  if (trunkText === undefined) return vlan === undefined ? { bridge: name } : { bridge: name, vlan };
  const trunks = parseTrunkList(trunkText, input, field);
  return vlan === undefined ? { bridge: name, trunks } : { bridge: name, vlan, trunks };
}

function parseTrunkList(text: string, whole: string, field: string): number[] {
  const seen = new Set<number>();
  for (const item of text.split(':')) {
    if (item === '') throw new InvalidInputError(`${describeValue(whole)} has an empty trunk VLAN`, { field, value: whole });
    const id = parseVlanId(item, field);
    if (seen.has(id)) throw new InvalidInputError(`VLAN ${id} is listed twice in ${describeValue(whole)}`, { field, value: whole });
    seen.add(id);
  }
  return [...seen].sort((a, b) => a - b);
}

/** The spec back in Xen's syntax (for logs and the stand-in). */
export function formatXenBridge(spec: XenBridgeSpec): string {
  const vlan = spec.vlan === undefined ? '' : `.${spec.vlan}`;
  const trunks = spec.trunks === undefined ? '' : spec.trunks.map((id) => `:${id}`).join('');
  return `${spec.bridge}${vlan}${trunks}`;
}
