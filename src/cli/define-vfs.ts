// `vifctl define`'s VFs: a libvirt domain needs its hostdev's PCI address in
// its definition before it starts (the prepare hook cannot change the XML),
// so every VIF on an SR-IOV network gets its VF now, chosen by the running
// daemon with its pool's rule (vifctl has no pool), and recorded in the
// metadata (`vf=`) so the hostdev interface is rendered with it. The choice
// reserves nothing: a stopped VM holds no VF; its start (prepare) claims it.
import { callMethod } from '../api/control-client.js';
import { DaemonUnavailableError } from '../api/errors.js';
import type { ChosenVfRow } from '../api/protocol.js';
import type { HostConfig } from '../config/schema.js';
import { InvalidInputError, VifdError } from '../model/errors.js';
import { VIFD_XML_NS } from '../model/xmlns.js';
import type { DomainDefinition, VifIntent, VifdIntent } from '../sources/libvirt/domain-xml.js';
import { parseDomainXml } from '../sources/libvirt/domain-xml.js';
import { escapeXml } from '../sources/libvirt/render.js';

const CHOOSE_TIMEOUT_MS = 15_000;

/** No daemon answered, and a VIF on an SR-IOV network has no VF recorded: nothing can choose one. */
export class VfChooserUnavailableError extends VifdError {
  readonly code = 'daemon-unavailable';
}

/** What vifctl knows of the host's other definitions (libvirt), to keep choices apart. */
export interface DefinedVfs {
  /** The VF each VIF index recorded in this VM's current definition (sticky across a define again). */
  readonly previous: ReadonlyMap<number, string>;
  /** VFs other VMs' definitions record, with who records them. */
  readonly recorded: ReadonlyMap<string, string>;
}

export const NO_DEFINED_VFS: DefinedVfs = { previous: new Map(), recorded: new Map() };

const isSriovVif = (vif: VifIntent, config: HostConfig): boolean => config.networks.get(vif.network)?.sriov !== undefined;

/** The VIFs of the definition on SR-IOV networks (by the host config). */
export const sriovVifsOf = (domain: DomainDefinition, config: HostConfig): VifIntent[] =>
  (domain.intent?.vifs ?? []).filter((vif) => isSriovVif(vif, config));

/** The VFs every other definition records, and this VM's previous ones, from their parsed definitions. */
export function definedVfs(uuid: string, definitions: readonly { readonly name: string; readonly definition: DomainDefinition }[]): DefinedVfs {
  const previous = new Map<number, string>();
  const recorded = new Map<string, string>();
  for (const { name, definition } of definitions) {
    for (const vif of definition.intent?.vifs ?? []) {
      if (vif.kind !== 'sriov-vf' || vif.vf === undefined) continue;
      if (definition.uuid === uuid) previous.set(vif.index, vif.vf.toLowerCase());
      else recorded.set(vif.vf.toLowerCase(), `VM ${JSON.stringify(name)} (${definition.uuid})`);
    }
  }
  return { previous, recorded };
}

/**
 * The daemon's choice for every SR-IOV VIF of the domain. Without a daemon:
 * refused when a VIF has no VF recorded (naming the VM, the VIF and its
 * network); VFs all recorded are kept unchecked, with a warning.
 */
export async function chooseVfs(domain: DomainDefinition, config: HostConfig, socket: string, defined: DefinedVfs, warn: (line: string) => void): Promise<ChosenVfRow[]> {
  const vifs = sriovVifsOf(domain, config);
  if (vifs.length === 0) return [];
  const params = {
    uuid: domain.uuid, name: domain.name,
    vifs: vifs.map((vif) => {
      const recorded = vif.kind === 'sriov-vf' ? vif.vf : undefined;
      const previous = defined.previous.get(vif.index);
      return { index: vif.index, network: vif.network, ...(recorded === undefined ? {} : { vf: recorded }), ...(previous === undefined ? {} : { previous }) };
    }),
    recorded: Object.fromEntries(defined.recorded),
  };
  try {
    return [...(await callMethod(socket, 'choose-vfs', params, { connectTimeoutMs: 2000, timeoutMs: CHOOSE_TIMEOUT_MS })).vfs];
  } catch (error) {
    if (!(error instanceof DaemonUnavailableError)) throw error;
    const unrecorded = params.vifs.find((vif) => vif.vf === undefined);
    if (unrecorded !== undefined) {
      throw new VfChooserUnavailableError(`is on SR-IOV network ${unrecorded.network}, whose VF only the running vifd can choose, and vifd did not answer on ${socket} (${error.message}); start vifd, or record the VF as <vif vf="0000:01:10.2"/>`,
        { domain: domain.name, vmUuid: domain.uuid, vifIndex: unrecorded.index, field: 'vf', value: unrecorded.network }, { cause: error });
    }
    warn(`warning: vifd did not answer on ${socket}: the recorded VFs of VM ${JSON.stringify(domain.name)} were not checked against the pools`);
    return [];
  }
}

/** The intent with each chosen VF recorded (its VIF becomes an sriov-vf entry with `vf`). */
export function withChosenVfs(intent: VifdIntent, chosen: readonly ChosenVfRow[]): VifdIntent {
  const byIndex = new Map(chosen.map((vf) => [vf.index, vf.address]));
  return {
    ...intent,
    vifs: intent.vifs.map((vif): VifIntent => {
      const address = byIndex.get(vif.index);
      return address === undefined ? vif : { index: vif.index, kind: 'sriov-vf', network: vif.network, vf: address, ...(vif.mac === undefined ? {} : { mac: vif.mac }) };
    }),
  };
}

/** vifd's metadata element as it stands in a definition file (namespace declared on it). */
function intentElement(intent: VifdIntent): string {
  const limit = intent.vifLimit === undefined ? '' : `\n      <vifd:vif-limit>${escapeXml(intent.vifLimit)}</vifd:vif-limit>`;
  const vifs = intent.vifs.map((vif) => {
    const own = vif.kind === 'sriov-vf' ? (vif.vf === undefined ? '' : ` vf="${escapeXml(vif.vf)}"`) : vif.vlan === undefined ? '' : ` vlan="${escapeXml(vif.vlan)}"`;
    return `\n      <vifd:vif index="${vif.index}" network="${escapeXml(vif.network)}"${vif.mac === undefined ? '' : ` mac="${escapeXml(vif.mac)}"`}${own}/>`;
  });
  return `<vifd:vifd xmlns:vifd="${VIFD_XML_NS}">${limit}${vifs.join('')}\n    </vifd:vifd>`;
}

/**
 * The definition text with vifd's metadata element replaced by `intent`'s
 * (the rest of the file as written). Checked by parsing it again: the result
 * must carry exactly `intent`, else the operator's metadata was laid out in a
 * way this cannot rewrite and define refuses rather than guess.
 */
export function recordIntent(xml: string, domain: DomainDefinition, intent: VifdIntent): string {
  const element = /<([A-Za-z_][\w.-]*:)?vifd(\s[^>]*)?>[\s\S]*?<\/\1?vifd\s*>/g;
  const candidates = [...xml.matchAll(element)].filter((match) => match[0].includes(VIFD_XML_NS) || match[1] !== undefined);
  const found = candidates.length === 1 ? candidates[0] : undefined;
  const failed = (): never => {
    throw new InvalidInputError('cannot record the chosen VFs in vifd\'s metadata as written; record each VF as <vif vf="..."/> yourself', { domain: domain.name, vmUuid: domain.uuid, field: 'metadata' });
  };
  if (found === undefined) return failed();
  const rewritten = `${xml.slice(0, found.index)}${intentElement(intent)}${xml.slice(found.index + found[0].length)}`;
  const reread = parseDomainXml(rewritten).intent;
  const same = (a: VifdIntent | null): string => JSON.stringify(a?.vifs.map((vif) => [vif.index, vif.network, vif.kind, vif.mac ?? null,
    vif.kind === 'sriov-vf' ? vif.vf?.toLowerCase() ?? null : vif.vlan ?? null]) ?? null);
  if (same(reread) !== same(intent) || reread?.vifLimit !== intent.vifLimit) return failed();
  return rewritten;
}
