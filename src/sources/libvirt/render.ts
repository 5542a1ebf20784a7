// Rendering planned VIFs as libvirt device XML from the templates in
// xml-templates/ (the caller reads the template file; this stays pure).
import type { DomainDefinition } from './domain-xml.js';
import { InvalidInputError } from '../../model/errors.js';
import { escapeXml } from '../../model/xml-text.js';

export { escapeXml };
import type { SriovVfPlan, VifPlan, VmPlan } from '../../model/plan.js';
import { renderHostdevInterface } from '../../model/sriov/render.js';
import { XEN_BRIDGE_TEMPLATE, isVifdXenInterface, isXenDomain, renderXenInterface } from './xen-interfaces.js';
export { HOSTDEV_TEMPLATE } from '../../model/sriov/render.js';

/** The TAP interface template, found from the build (dist/src/sources/libvirt) like from the sources. */
export const TAP_TEMPLATE = new URL('../../../../xml-templates/tap-ethernet.xml', import.meta.url);

/** The template a domain's VIFs are rendered from: Xen's bridge interface for a Xen domain, else the TAP. */
export const interfaceTemplateFor = (domain: Pick<DomainDefinition, 'hypervisorType'>): URL => (isXenDomain(domain) ? XEN_BRIDGE_TEMPLATE : TAP_TEMPLATE);

/** Fills {{mac}}, {{device}} and {{mtu}}; the leading comment of the template is dropped. */
export function renderTapInterface(template: string, vif: Pick<VifPlan, 'device' | 'mac' | 'mtu'>): string {
  const values: Record<string, string> = {
    mac: escapeXml(vif.mac),
    device: escapeXml(vif.device),
    mtu: vif.mtu === undefined ? '' : `\n  <mtu size='${vif.mtu}'/>`,
  };
  return template
    .replace(/^\s*<!--[\s\S]*?-->\s*/, '')
    .replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole)
    .trim();
}

/** An SR-IOV VIF as libvirt's managed hostdev interface: vfio for QEMU/KVM, xen for libxl. */
export function renderVfInterface(template: string, vif: SriovVfPlan, hypervisorType: string): string {
  return renderHostdevInterface(template, {
    mac: vif.mac, address: vif.vf.address, driver: hypervisorType === 'xen' ? 'xen' : 'vfio',
    ...(vif.vlan.mode === 'access' ? { vlan: vif.vlan.tag } : {}),
  });
}

/**
 * The domain definition with every planned VIF that has no interface yet
 * rendered into <devices> (what `vifctl define` registers with libvirt).
 * Text insertion, not a parse-and-rebuild: the rest of the operator's XML
 * (comments, order, formatting) stays exactly as written.
 */
export function renderDomainInterfaces(xml: string, domain: DomainDefinition, plan: VmPlan, template: string, hostdevTemplate?: string): string {
  const xen = isXenDomain(domain);
  // A Xen domain's VIF is its vif-vifd interface with its MAC; a KVM domain's, the interface with its device name.
  const present = new Set(xen ? domain.interfaces.filter(isVifdXenInterface).map((definition) => definition.mac?.toLowerCase()) : domain.interfaces.map((definition) => definition.targetDev));
  const missing = plan.vifs.filter((vif) => !present.has(xen ? vif.mac : vif.device));
  if (missing.length === 0) return xml;
  const renderOne = (vif: VifPlan): string => {
    if (vif.kind === 'sriov-vf') {
      if (hostdevTemplate === undefined) throw new InvalidInputError('an SR-IOV VIF needs the hostdev template', { domain: domain.name, vifIndex: vif.index });
      return renderVfInterface(hostdevTemplate, vif, domain.hypervisorType);
    }
    return xen ? renderXenInterface(template, vif) : renderTapInterface(template, vif);
  };
  const rendered = missing.map((vif) => renderOne(vif).replace(/\n/g, '\n    ')).join('\n    ');
  const close = xml.lastIndexOf('</devices>');
  if (close >= 0) return `${xml.slice(0, close)}  ${rendered}\n  ${xml.slice(close)}`;
  const empty = /<devices\s*\/>/.exec(xml);
  if (empty !== null) return `${xml.slice(0, empty.index)}<devices>\n    ${rendered}\n  </devices>${xml.slice(empty.index + empty[0].length)}`;
  const end = xml.lastIndexOf('</domain>');
  if (end < 0) throw new InvalidInputError('no </domain> to add <devices> to', { domain: domain.name, field: 'domain XML' });
  return `${xml.slice(0, end)}  <devices>\n    ${rendered}\n  </devices>\n${xml.slice(end)}`;
}
