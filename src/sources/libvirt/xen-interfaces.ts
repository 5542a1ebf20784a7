// A Xen domain's vifd VIFs as libvirt's libxl driver takes them (pure):
// <interface type='bridge'> with vifd's MAC, the bridge, the VLAN as <vlan>
// (the driver turns it into xenstore's BRIDGE.TAG / BRIDGE:T1:T2) and
// <script path='vif-vifd'/>, so libxl runs vifd's hotplug script. Such an
// interface has no device name of vifd's (netback names it vifD.N by domid):
// it is told apart by its script and matched to its VIF by MAC.
import { InvalidInputError } from '../../model/errors.js';
import type { VifPlan, VmPlan } from '../../model/plan.js';
import { escapeXml } from '../../model/xml-text.js';
import type { VlanSettings } from '../../model/vlan.js';
import type { DomainDefinition, InterfaceDefinition } from './domain-xml.js';

/** The name libxl resolves in /etc/xen/scripts (scripts/install.sh puts it there). */
export const XEN_HOTPLUG_SCRIPT = 'vif-vifd';

/** The template for a Xen domain's VIF, found from the build like the TAP one. */
export const XEN_BRIDGE_TEMPLATE = new URL('../../../../xml-templates/xen-bridge-interface.xml', import.meta.url);

export const isXenDomain = (domain: Pick<DomainDefinition, 'hypervisorType'>): boolean => domain.hypervisorType === 'xen';

export const isVifdXenInterface = (definition: InterfaceDefinition): boolean => definition.type === 'bridge' && definition.script === XEN_HOTPLUG_SCRIPT;

/** <vlan> as the libxl driver reads it: one tag is BRIDGE.TAG, trunk='yes' is BRIDGE:T1:T2. */
export function xenVlanXml(vlan: VlanSettings, vifIndex: number): string {
  if (vlan.mode === 'none') return '';
  if (vlan.mode === 'access') return `\n  <vlan>\n    <tag id='${vlan.tag}'/>\n  </vlan>`;
  if (vlan.mode === 'trunk') return `\n  <vlan trunk='yes'>\n${vlan.trunks.map((tag) => `    <tag id='${tag}'/>`).join('\n')}\n  </vlan>`;
  // libxl's bridge syntax has no native VLAN the driver can express (it writes every tag of a trunk as ":TAG").
  throw new InvalidInputError(`VLAN mode ${vlan.mode} cannot be given to a Xen domain through libvirt's libxl driver (access or trunk only)`, { vifIndex, field: 'vlan' });
}

/** Fills {{mac}}, {{bridge}} and {{vlan}}; the leading comment of the template is dropped. */
export function renderXenInterface(template: string, vif: Pick<VifPlan, 'index' | 'mac' | 'bridge' | 'vlan'>): string {
  const values: Record<string, string> = { mac: escapeXml(vif.mac), bridge: escapeXml(vif.bridge), vlan: xenVlanXml(vif.vlan, vif.index) };
  return template
    .replace(/^\s*<!--[\s\S]*?-->\s*/, '')
    .replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole)
    .trim();
}

const vlanOf = (definition: InterfaceDefinition): string =>
  `${definition.vlanTrunk ? 'trunk ' : ''}${definition.vlanTags.map((tag) => tag.id).join(',')}`;
const plannedVlan = (vlan: VlanSettings): string =>
  vlan.mode === 'access' ? String(vlan.tag) : vlan.mode === 'trunk' ? `trunk ${vlan.trunks.join(',')}` : '';

/** Problems with a Xen domain's rendered VIFs, each found by its MAC. */
export function xenInterfaceProblems(domain: DomainDefinition, plan: VmPlan): string[] {
  return plan.vifs.flatMap((vif) => {
    const rendered = domain.interfaces.find((definition) => definition.mac?.toLowerCase() === vif.mac);
    if (rendered === undefined) return [`VIF ${vif.index}: no <interface> with MAC ${vif.mac} (define the VM with vifctl so it is rendered)`];
    const problems: string[] = [];
    if (!isVifdXenInterface(rendered)) problems.push(`VIF ${vif.index}: interface ${vif.mac} needs type='bridge' and <script path='${XEN_HOTPLUG_SCRIPT}'/>`);
    if (rendered.sourceBridge !== vif.bridge) problems.push(`VIF ${vif.index}: interface ${vif.mac} is on bridge ${rendered.sourceBridge ?? 'none'}, planned ${vif.bridge}`);
    if (vlanOf(rendered) !== plannedVlan(vif.vlan)) problems.push(`VIF ${vif.index}: interface ${vif.mac} has VLAN "${vlanOf(rendered)}", planned "${plannedVlan(vif.vlan)}"`);
    return problems;
  });
}
