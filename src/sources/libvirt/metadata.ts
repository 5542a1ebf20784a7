// Changing a VM's intent (pure): the next free VIF index, adding and removing
// a VIF, and the metadata element libvirt stores. Used by hot-plug, which
// rewrites the intent so it keeps travelling with the VM.
import type { DomainDefinition, VifIntent, VifdIntent } from './domain-xml.js';
import { InvalidInputError } from '../../model/errors.js';
import { MAX_VIF_INDEX } from '../../model/ids.js';
import { deviceName } from '../../model/names.js';
import { escapeXml } from './render.js';

/**
 * vifd's metadata element without a namespace declaration, as libvirt's
 * virDomainSetMetadata takes it (libvirt adds the namespace and prefix).
 * Every VIF carries its index explicitly: after an unplug positions no longer say it.
 */
export function renderIntentMetadata(intent: VifdIntent): string {
  const limit = intent.vifLimit === undefined ? '' : `<vif-limit>${escapeXml(intent.vifLimit)}</vif-limit>`;
  const vifs = [...intent.vifs].sort((a, b) => a.index - b.index).map((vif) => {
    const own = vif.kind === 'sriov-vf' ? (vif.vf === undefined ? '' : ` vf="${escapeXml(vif.vf)}"`) : vif.vlan === undefined ? '' : ` vlan="${escapeXml(vif.vlan)}"`;
    const extra = [vif.mac === undefined ? '' : ` mac="${escapeXml(vif.mac)}"`, own].join('');
    return `<vif index="${vif.index}" network="${escapeXml(vif.network)}"${extra}/>`;
  });
  return `<vifd>${limit}${vifs.join('')}</vifd>`;
}

/** The smallest index no VIF of the VM uses, in its intent or as a device name among its interfaces. */
export function nextFreeIndex(domain: DomainDefinition, intent: VifdIntent): number {
  const used = new Set(intent.vifs.map((vif) => vif.index));
  const devices = new Set(domain.interfaces.map((definition) => definition.targetDev));
  for (let index = 0; index <= MAX_VIF_INDEX; index++) {
    if (!used.has(index) && !devices.has(deviceName(domain.uuid, index))) return index;
  }
  throw new InvalidInputError(`no free VIF index (0-${MAX_VIF_INDEX})`, { domain: domain.name, vmUuid: domain.uuid, field: 'index' });
}

export function withVif(intent: VifdIntent, vif: VifIntent): VifdIntent {
  return { ...intent, vifs: [...intent.vifs.filter((other) => other.index !== vif.index), vif].sort((a, b) => a.index - b.index) };
}

export function withoutVif(intent: VifdIntent, index: number): VifdIntent {
  return { ...intent, vifs: intent.vifs.filter((vif) => vif.index !== index) };
}
