// A libvirt domain definition as a VM intent: vifd's entries from its metadata
// become VIF intents, every other <interface> is counted (libvirt's own OVS
// interfaces are described). And the check libvirt's prepare needs: every
// planned VIF is rendered as the ethernet interface vifd makes its TAP for.
import { InvalidInputError, withErrorContext } from '../../model/errors.js';
import { macPrefixForDomain } from '../../model/mac.js';
import { deviceName } from '../../model/names.js';
import { planVm } from '../../model/plan.js';
import type { MacUser, PlanSettings, SriovVfPlan, VmPlan } from '../../model/plan.js';
import { validateVlanSettings } from '../../model/vlan.js';
import type { VlanSettings } from '../../model/vlan.js';
import type { IntentRead } from '../../model/contracts.js';
import type { OtherInterface, VmIntent } from '../../model/vm-intent.js';
import type { DomainDefinition, InterfaceDefinition, VifdIntent } from './domain-xml.js';
import { isVifdXenInterface, isXenDomain, xenInterfaceProblems } from './xen-interfaces.js';

function libvirtVlan(definition: InterfaceDefinition): VlanSettings {
  const tags = definition.vlanTags;
  if (tags.length === 0) return { mode: 'none' };
  const native = tags.find((tag) => tag.nativeMode !== undefined);
  if (native !== undefined) {
    const trunks = tags.filter((tag) => tag !== native).map((tag) => tag.id);
    return validateVlanSettings({ mode: `native-${native.nativeMode ?? ''}`, tag: native.id, ...(trunks.length > 0 ? { trunks } : {}) });
  }
  if (definition.vlanTrunk || tags.length > 1) return validateVlanSettings({ trunks: tags.map((tag) => tag.id) });
  return validateVlanSettings({ tag: tags[0]?.id });
}

function otherInterface(domain: DomainDefinition, definition: InterfaceDefinition): OtherInterface {
  if (definition.type === 'bridge' && definition.virtualport === 'openvswitch' && definition.sourceBridge !== undefined) {
    const vlan = withErrorContext({ domain: domain.name, vmUuid: domain.uuid, field: 'vlan' }, () => libvirtVlan(definition));
    return { kind: 'ovs', pluggedBy: 'libvirt', bridge: definition.sourceBridge, vlan,
      ...(definition.targetDev === undefined ? {} : { device: definition.targetDev }), ...(definition.mac === undefined ? {} : { mac: definition.mac }) };
  }
  return { kind: 'unmanaged', description: `interface type=${JSON.stringify(definition.type)}${definition.mac === undefined ? '' : ` mac ${definition.mac}`}` };
}

/** The VM intent of a definition; `intent` replaces the one in its metadata (a running VM's live view). */
export function domainIntent(domain: DomainDefinition, intent: VifdIntent | null = domain.intent): VmIntent {
  const vifs = intent?.vifs ?? [];
  const devices = new Set(vifs.map((vif) => deviceName(domain.uuid, vif.index)));
  // A Xen domain's vifd interfaces have no vifd device name (netback names them by domid): their script marks them.
  const ours = (definition: InterfaceDefinition): boolean =>
    (definition.targetDev !== undefined && devices.has(definition.targetDev)) || (isXenDomain(domain) && isVifdXenInterface(definition));
  const others = domain.interfaces.filter((definition) => !ours(definition)).map((definition) => otherInterface(domain, definition));
  const vm: VmIntent = { uuid: domain.uuid, name: domain.name, vifs, others };
  return intent?.vifLimit === undefined ? vm : { ...vm, vifLimit: intent.vifLimit };
}

/** Plans a libvirt domain (vifctl define and plan, hot-plug). */
export const planDomain = (domain: DomainDefinition, settings: PlanSettings, macUser?: MacUser): VmPlan =>
  planVm(domainIntent(domain), { ...settings, macPrefix: macPrefixForDomain(domain.hypervisorType, settings.macPrefix) }, macUser);

/** An SR-IOV VIF is rendered as a managed hostdev interface with its VF, its MAC and its network's VLAN. */
function hostdevProblems(vif: SriovVfPlan, rendered: InterfaceDefinition): string[] {
  const problems: string[] = [];
  const where = `VIF ${vif.index}: interface of VF ${vif.vf.address}`;
  if (rendered.type !== 'hostdev') problems.push(`${where} is type=${JSON.stringify(rendered.type)}, expected hostdev`);
  if (rendered.hostdevAddress !== vif.vf.address) problems.push(`${where} has source address ${rendered.hostdevAddress ?? 'none'}`);
  if (rendered.mac?.toLowerCase() !== vif.mac) problems.push(`${where} has MAC ${rendered.mac ?? 'none'}, planned ${vif.mac}`);
  const tags = rendered.vlanTags.map((tag) => tag.id).join(',');
  const wanted = vif.vlan.mode === 'access' ? String(vif.vlan.tag) : '';
  if (tags !== wanted) problems.push(`${where} has VLAN ${tags === '' ? 'none' : tags}, planned ${wanted === '' ? 'none' : wanted}`);
  return problems;
}

/** Problems with a definition's rendered interfaces, e.g. at libvirt's prepare. */
export function renderedInterfaceProblems(domain: DomainDefinition, plan: VmPlan): string[] {
  if (isXenDomain(domain)) return xenInterfaceProblems(domain, plan);
  return plan.vifs.flatMap((vif) => {
    const rendered = domain.interfaces.find((definition) => definition.targetDev === vif.device);
    if (rendered === undefined) return [`VIF ${vif.index}: no <interface> with target dev '${vif.device}' (define the VM with vifctl so it is rendered)`];
    if (vif.kind === 'sriov-vf') return hostdevProblems(vif, rendered);
    const problems: string[] = [];
    if (rendered.type !== 'ethernet') problems.push(`VIF ${vif.index}: interface ${vif.device} is type=${JSON.stringify(rendered.type)}, expected ethernet`);
    if (rendered.managed !== 'no') problems.push(`VIF ${vif.index}: interface ${vif.device} needs <target managed='no'/> (vifd creates the TAP)`);
    if (rendered.mac?.toLowerCase() !== vif.mac) problems.push(`VIF ${vif.index}: interface ${vif.device} has MAC ${rendered.mac ?? 'none'}, planned ${vif.mac}`);
    return problems;
  });
}

/** A definition as a start would take it: its intent, and the check that its interfaces are rendered as planned. */
export function definitionRead(domain: DomainDefinition): IntentRead {
  return { intent: domainIntent(domain), accept: (plan) => { assertRenderedAsPlanned(domain, plan); } };
}

/** Refuses a definition whose rendered interfaces do not match its plan (all problems in one message). */
export function assertRenderedAsPlanned(domain: DomainDefinition, plan: VmPlan): void {
  const problems = renderedInterfaceProblems(domain, plan);
  if (problems.length > 0) throw new InvalidInputError(problems.join('; '), { domain: domain.name, vmUuid: domain.uuid });
}
