// `vifctl plan DOMAIN.xml [--config FILE] [--json]`: a dry run. It reads the
// domain definition and the host config, prints what vifd would make for
// every VIF (or why it refuses), and touches nothing. Exit 0 planned, 1 refused.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDomainXml } from '../sources/libvirt/domain-xml.js';
import { VifdError } from '../model/errors.js';
import { planDomain } from '../sources/libvirt/intent.js';
import type { VmPlan } from '../model/plan.js';
import { TAP_TEMPLATE, renderTapInterface } from '../sources/libvirt/render.js';
import { describeVlan } from '../model/vlan.js';
import { loadClientConfig } from './client-config.js';
import { readDefinitionFile } from './read-definition.js';
import { formatTable } from './table.js';

export interface PlanOptions {
  readonly domainXml: string;
  readonly config?: string;
  readonly json: boolean;
}

export function parsePlanArgs(argv: readonly string[]): PlanOptions {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: { config: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const [domainXml, ...extra] = positionals;
  if (domainXml === undefined || extra.length > 0) throw new Error('expects exactly one DOMAIN.xml');
  return values.config === undefined ? { domainXml, json: values.json } : { domainXml, config: values.config, json: values.json };
}

export function humanPlan(plan: VmPlan): string {
  const header = `VM ${JSON.stringify(plan.vm.name)} ${plan.vm.uuid}: ${plan.interfaceCount} of ${plan.limit.limit} VIFs (limit from ${plan.limit.source})`;
  const rows = [['INDEX', 'KIND', 'DEVICE', 'MAC', 'NETWORK', 'BRIDGE', 'VLAN', 'MTU'],
    ...plan.vifs.map((vif) => [String(vif.index), vif.kind, vif.device, vif.mac, vif.network, vif.bridge, describeVlan(vif.vlan), vif.mtu === undefined ? '-' : String(vif.mtu)]),
    ...plan.otherInterfaces.map((other) => ['-', other.kind, other.device ?? '-', other.mac ?? '-', '-', other.bridge, describeVlan(other.vlan), '-'])];
  return [header, formatTable(rows), ...plan.warnings.map((warning) => `warning: ${warning}`)].join('\n');
}

/** Returns the exit code; output goes to `out`, notes to `err`. */
export function runPlan(options: PlanOptions, out: (line: string) => void, err: (line: string) => void): number {
  let plan: VmPlan;
  try {
    const config = loadClientConfig(options.config, err);
    plan = planDomain(parseDomainXml(readDefinitionFile(options.domainXml)), config);
  } catch (error) {
    if (!(error instanceof VifdError)) throw error;
    if (options.json) out(JSON.stringify({ ok: false, code: error.code, reason: error.message, context: error.context }));
    else out(`refused: ${error.message}`);
    return 1;
  }
  if (options.json) {
    const template = readFileSync(TAP_TEMPLATE, 'utf8');
    out(JSON.stringify({ ok: true, ...plan, vifs: plan.vifs.map((vif) => ({ ...vif, interfaceXml: renderTapInterface(template, vif) })) }));
  } else {
    out(humanPlan(plan));
  }
  return 0;
}
