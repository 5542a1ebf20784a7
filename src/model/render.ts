// Rendering planned VIFs as libvirt device XML from the templates in
// xml-templates/ (the caller reads the template file; this stays pure).
import type { TapVifPlan } from './plan.js';

const escapeXml = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/** Fills {{mac}}, {{device}} and {{mtu}}; the leading comment of the template is dropped. */
export function renderTapInterface(template: string, vif: TapVifPlan): string {
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
