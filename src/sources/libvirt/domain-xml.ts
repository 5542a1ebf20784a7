// Reading a libvirt domain definition (untrusted text) into what vifd needs:
// identity, vifd's intent from its own metadata namespace, and the interfaces
// already present. Pure: text in, data out. DOCTYPE entities are never
// expanded (fast-xml-parser leaves them literal), so hostile XML cannot grow.
//
// vifd's intent, which travels with the definition (and so with migration):
//   <metadata>
//     <vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">
//       <vifd:vif-limit>8</vifd:vif-limit>                       optional
//       <vifd:vif network="prod"/>                                VIF 0
//       <vifd:vif network="storage" mac="52:54:00:12:34:56"/>     VIF 1
//       <vifd:vif index="2" network="fast" vf="0000:01:10.2"/>    VIF 2, SR-IOV: its VF
//     </vifd:vifd>
//   </metadata>
// A VIF on an SR-IOV network is rendered as <interface type='hostdev'> with
// the VF as its source address; such an interface is named here by its VIF's
// device name (as a TAP's interface is by its target), so the rest of the
// source tells vifd's interfaces apart the same way for both.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InvalidInputError, withErrorContext } from '../../model/errors.js';
import type { ErrorContext } from '../../model/errors.js';
import { parseVifIndex, parseVmUuid } from '../../model/ids.js';
import { assertDomainXmlSize } from '../../model/limits.js';
import { VIFD_XML_NS } from '../../model/xmlns.js';
import { deviceName } from '../../model/names.js';
import { isPciAddress } from '../../model/sriov/pci.js';
import type { SriovVifIntent, TapVifIntent } from '../../model/vm-intent.js';

/** A <vif> entry of vifd's metadata: a TAP, or (with a `vf` or on an SR-IOV network) a VF. */
type VifIntent = TapVifIntent | SriovVifIntent;

export { VIFD_XML_NS };
export { MAX_DOMAIN_XML_BYTES } from '../../model/limits.js';

/** A <vif> entry: its index is the `index` attribute, else its position. */
export type { VifIntent };

export interface VifdIntent {
  /** Raw text of <vif-limit>, validated by the planner against the host's cap. */
  readonly vifLimit?: string;
  readonly vifs: readonly VifIntent[];
}

export interface InterfaceDefinition {
  readonly type: string;
  readonly mac?: string;
  readonly targetDev?: string;
  readonly managed?: string;
  readonly sourceBridge?: string;
  readonly virtualport?: string;
  readonly vlanTags: readonly { readonly id: string; readonly nativeMode?: string }[];
  readonly vlanTrunk: boolean;
  readonly mtu?: string;
  /** libvirt's device alias (net0, ua-...): how its device events name the interface. */
  readonly alias?: string;
  /** <script path='...'/>: the Xen hotplug script (libvirt's libxl driver); vifd's is vif-vifd. */
  readonly script?: string;
  /** A hostdev interface's source PCI address (0000:01:10.2), lowercase. */
  readonly hostdevAddress?: string;
  /** <teaming type='persistent'/> or <teaming type='transient' persistent='ua-...'/> (virtio failover). */
  readonly teaming?: { readonly type: string; readonly persistent?: string };
}

export interface DomainDefinition {
  readonly name: string;
  readonly uuid: string;
  readonly hypervisorType: string;
  readonly intent: VifdIntent | null;
  readonly interfaces: readonly InterfaceDefinition[];
}

type Node = Record<string, unknown>;
const parser = new XMLParser({
  // htmlEntities decodes numeric character references (&#10;) too; DOCTYPE entities stay literal.
  ignoreAttributes: false, attributeNamePrefix: '@', processEntities: true, htmlEntities: true,
  // No trimming: an attribute such as vlan=" 100" must reach the validators as written
  // (they never coerce), and a name of spaces is a name libvirt accepts.
  parseTagValue: false, parseAttributeValue: false, trimValues: false,
});

/** Attributes a <vif> may carry; anything else is refused by name rather than ignored. */
const VIF_ATTRIBUTES = new Set(['index', 'network', 'mac', 'vlan', 'kind', 'vf']);
const VIF_KINDS = ['tap', 'sriov-vf'];
const INTENT_ELEMENTS = new Set(['vif', 'vif-limit']);

const asArray = (value: unknown): Node[] => (value === undefined ? [] : Array.isArray(value) ? (value as Node[]) : [value as Node]);
const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'object' && value !== null && typeof (value as Node)['#text'] === 'string' ? (value as Node)['#text'] as string : undefined;
const attribute = (node: unknown, name: string): string | undefined => {
  const value = typeof node === 'object' && node !== null ? (node as Node)[`@${name}`] : undefined;
  return typeof value === 'string' ? value : undefined;
};

/** The namespace a prefix means on `node`, declared there or on an ancestor (nearest first). */
function namespaceOf(prefix: string, scopes: readonly unknown[]): string | undefined {
  const declaration = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
  for (const scope of scopes) {
    const uri = attribute(scope, declaration);
    if (uri !== undefined) return uri;
  }
  return undefined;
}

/**
 * vifd's metadata element, found by namespace URI whatever prefix the
 * definition uses and wherever it declares it (the element, <metadata> or <domain>).
 */
function findIntentElement(domain: Node): { node: Node; prefix: string } | null {
  const metadata = asArray(domain.metadata)[0];
  if (metadata === undefined) return null;
  for (const [tag, value] of Object.entries(metadata)) {
    const [prefix, local] = tag.includes(':') ? tag.split(':', 2) as [string, string] : ['', tag];
    if (local !== 'vifd') continue;
    for (const node of asArray(value)) {
      if (namespaceOf(prefix, [node, metadata, domain]) === VIFD_XML_NS) return { node, prefix };
    }
  }
  return null;
}

/** Unknown attributes and elements are refused by name: silently ignoring one (mtu=) misleads. */
function assertKnown(node: Node, prefix: string, allowed: ReadonlySet<string>, what: string, context: ErrorContext): void {
  for (const [key, value] of Object.entries(node)) {
    if (key === '#text') {
      if (typeof value === 'string' && value.trim() !== '') throw new InvalidInputError(`${what} has unexpected text ${JSON.stringify(value.trim())}`, context);
      continue;
    }
    const isAttribute = key.startsWith('@');
    const name = isAttribute ? key.slice(1) : key;
    if (isAttribute && (name === 'xmlns' || name.startsWith('xmlns:'))) continue;
    const local = !isAttribute && prefix !== '' && name.startsWith(`${prefix}:`) ? name.slice(prefix.length + 1) : name;
    const known = isAttribute ? allowed.has(name) : (prefix === '' || name.startsWith(`${prefix}:`)) && allowed.has(local);
    if (!known) {
      const list = [...allowed].sort().join(', ');
      throw new InvalidInputError(`${isAttribute ? 'attribute' : 'element'} ${JSON.stringify(name)} is not supported in ${what} (known: ${list})`,
        { ...context, field: name });
    }
  }
}

function parseIntent(domain: Node): VifdIntent | null {
  const found = findIntentElement(domain);
  if (found === null) return null;
  const tag = (local: string): string => (found.prefix === '' ? local : `${found.prefix}:${local}`);
  assertKnown(found.node, found.prefix, INTENT_ELEMENTS, "vifd's metadata", {});
  const vifs = asArray(found.node[tag('vif')]).map((element, index): VifIntent => {
    // An empty <vif/> parses as '', text inside it as a string: neither has the attributes it needs.
    const raw: unknown = element;
    if (typeof raw === 'string' && raw.trim() !== '') throw new InvalidInputError('<vif> takes attributes, not text', { vifIndex: index, field: 'vif' });
    const node: Node = typeof raw === 'object' && raw !== null ? raw as Node : {};
    assertKnown(node, found.prefix, VIF_ATTRIBUTES, '<vif>', { vifIndex: index });
    const network = attribute(node, 'network');
    if (network === undefined || network === '') {
      throw new InvalidInputError('<vif> needs a network attribute', { vifIndex: index, field: 'network' });
    }
    const vf = attribute(node, 'vf');
    const kind = attribute(node, 'kind') ?? (vf === undefined ? 'tap' : 'sriov-vf');
    if (!VIF_KINDS.includes(kind)) throw new InvalidInputError(`kind ${JSON.stringify(kind)} is not supported (${VIF_KINDS.join(', ')})`, { vifIndex: index, field: 'kind' });
    const mac = attribute(node, 'mac');
    const indexText = attribute(node, 'index');
    // Hot-unplug removes an entry; explicit indexes keep the others' device names and MACs stable.
    const vifIndex = indexText === undefined ? index
      : withErrorContext({ vifIndex: index }, () => parseVifIndex(/^\d{1,6}$/.test(indexText) ? Number(indexText) : indexText, 'index'));
    const vlan = attribute(node, 'vlan');
    if (kind === 'sriov-vf') {
      // A VF tags its network's one VLAN (VST): a per-VIF VLAN cannot be honoured, so it is refused.
      if (vlan !== undefined) throw new InvalidInputError('an SR-IOV VIF takes its network\'s VLAN; a per-VIF vlan is not supported', { vifIndex, field: 'vlan' });
      return { index: vifIndex, network, kind, ...(mac === undefined ? {} : { mac }), ...(vf === undefined ? {} : { vf }) };
    }
    if (vf !== undefined) throw new InvalidInputError(`a ${kind} VIF has no VF`, { vifIndex, field: 'vf' });
    return { index: vifIndex, network, kind: 'tap', ...(mac === undefined ? {} : { mac }), ...(vlan === undefined ? {} : { vlan }) };
  });
  const seen = new Set<number>();
  for (const vif of vifs) {
    if (seen.has(vif.index)) throw new InvalidInputError(`VIF index ${vif.index} is used twice`, { vifIndex: vif.index, field: 'index' });
    seen.add(vif.index);
  }
  const limit = text(found.node[tag('vif-limit')]);
  return limit === undefined ? { vifs } : { vifLimit: limit, vifs };
}

/** A hostdev interface's <source><address type='pci' domain= bus= slot= function=/>, as sysfs writes it. */
function hostdevAddress(node: Node): string | undefined {
  if (attribute(node, 'type') !== 'hostdev') return undefined;
  const address = asArray(asArray(node.source)[0]?.address)[0];
  if (address === undefined || attribute(address, 'type') !== 'pci') return undefined;
  const part = (name: string, width: number): string | undefined => {
    const value = attribute(address, name);
    const number = value === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(value) ? Number.NaN : Number(value);
    return Number.isInteger(number) ? number.toString(16).padStart(width, '0') : undefined;
  };
  const text = `${part('domain', 4) ?? ''}:${part('bus', 2) ?? ''}:${part('slot', 2) ?? ''}.${part('function', 1) ?? ''}`;
  return isPciAddress(text) ? text : undefined;
}

function teamingOf(node: Node): InterfaceDefinition['teaming'] {
  const teaming = asArray(node.teaming)[0];
  const type = attribute(teaming, 'type');
  if (type === undefined) return undefined;
  const persistent = attribute(teaming, 'persistent');
  return persistent === undefined ? { type } : { type, persistent };
}

/** A hostdev interface of a vifd VF takes its VIF's device name (see the header). */
function nameVfInterfaces(uuid: string, intent: VifdIntent | null, interfaces: InterfaceDefinition[]): InterfaceDefinition[] {
  const byAddress = new Map((intent?.vifs ?? []).flatMap((vif) => (vif.kind === 'sriov-vf' && vif.vf !== undefined ? [[vif.vf.toLowerCase(), vif.index] as const] : [])));
  return interfaces.map((definition) => {
    const index = definition.hostdevAddress === undefined ? undefined : byAddress.get(definition.hostdevAddress);
    return index === undefined ? definition : { ...definition, targetDev: deviceName(uuid, index) };
  });
}

function parseInterface(node: Node): InterfaceDefinition {
  const vlan = asArray(node.vlan)[0];
  const definition: Record<string, unknown> = {
    type: attribute(node, 'type') ?? '',
    mac: attribute(node.mac, 'address'),
    targetDev: attribute(node.target, 'dev'),
    managed: attribute(node.target, 'managed'),
    sourceBridge: attribute(node.source, 'bridge'),
    virtualport: attribute(node.virtualport, 'type'),
    vlanTags: asArray(vlan?.tag).map((tag) => ({ id: attribute(tag, 'id') ?? '', nativeMode: attribute(tag, 'nativeMode') })),
    vlanTrunk: attribute(vlan, 'trunk') === 'yes',
    mtu: attribute(node.mtu, 'size'),
    alias: attribute(node.alias, 'name'),
    script: attribute(node.script, 'path'),
    hostdevAddress: hostdevAddress(node),
    teaming: teamingOf(node),
  };
  return Object.fromEntries(Object.entries(definition).filter(([, value]) => value !== undefined)) as unknown as InterfaceDefinition;
}

/** Parses a domain definition; malformed or incomplete XML is refused naming what is missing. */
export function parseDomainXml(xml: string): DomainDefinition {
  assertDomainXmlSize(xml);
  // The parser accepts malformed XML silently; the validator says what is wrong and where.
  // It still ships in fast-xml-parser 5, deprecated for a split-out package: keeping it
  // keeps vifd on one XML library.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const verdict = XMLValidator.validate(xml);
  if (verdict !== true) {
    throw new InvalidInputError(`not well-formed XML at line ${verdict.err.line}: ${verdict.err.msg}`, { field: 'domain XML' });
  }
  const document = parser.parse(xml) as Node;
  const domain = asArray(document.domain)[0];
  if (domain === undefined) throw new InvalidInputError('no <domain> element', { field: 'domain XML' });
  const name = text(domain.name);
  if (name === undefined || name === '') throw new InvalidInputError('the domain has no <name>', { field: 'name' });
  const uuidText = text(domain.uuid);
  if (uuidText === undefined) throw new InvalidInputError('the domain has no <uuid>', { domain: name, field: 'uuid' });
  const uuid = parseVmUuid(uuidText.trim());
  let intent: VifdIntent | null;
  try {
    intent = parseIntent(domain);
  } catch (error) {
    throw error instanceof InvalidInputError ? error.withContext({ domain: name, vmUuid: uuid }) : error;
  }
  const devices = asArray(domain.devices)[0];
  return {
    name, uuid, hypervisorType: attribute(domain, 'type') ?? '', intent,
    interfaces: nameVfInterfaces(uuid, intent, asArray(devices?.interface).map(parseInterface)),
  };
}
