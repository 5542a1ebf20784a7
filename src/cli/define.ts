// `vifctl define DOMAIN.xml [--config FILE] [--uri URI] [--print] [--json]`:
// plans the VM's VIFs (the VIF limit is enforced here, at define), renders
// their <interface> elements into the definition and registers it with
// libvirt (--uri, else libvirt.uri from the config), so the rendered devices
// travel with the VM. --print shows the rendered XML instead of defining it.
// The libvirt binding is loaded only to define: --print and --help work on a
// host where libvirt.so cannot be loaded. Exit 0 defined, 1 refused.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { HostConfig } from '../config/schema.js';
import { parseDomainXml } from '../model/domain-xml.js';
import { VifdError } from '../model/errors.js';
import { assertRenderedAsPlanned, planDomain } from '../model/plan.js';
import { TAP_TEMPLATE, renderDomainInterfaces } from '../model/render.js';
import { loadClientConfig } from './client-config.js';
import { loadLibvirt } from './load-libvirt.js';
import { humanPlan } from './plan.js';

export interface DefineOptions {
  readonly domainXml: string;
  readonly config?: string;
  /** Absent: libvirt.uri from the config. */
  readonly uri?: string;
  readonly print: boolean;
  readonly json: boolean;
}

export function parseDefineArgs(argv: readonly string[]): DefineOptions {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: {
      config: { type: 'string' }, uri: { type: 'string' },
      print: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
    },
  });
  const [domainXml, ...extra] = positionals;
  if (domainXml === undefined || extra.length > 0) throw new Error('expects exactly one DOMAIN.xml');
  return {
    domainXml, print: values.print, json: values.json,
    ...(values.uri === undefined ? {} : { uri: values.uri }), ...(values.config === undefined ? {} : { config: values.config }),
  };
}

/** The definition as vifd will accept it at prepare, or the refusal. */
export function renderDefinition(xml: string, config: HostConfig) {
  const domain = parseDomainXml(xml);
  const plan = planDomain(domain, config);
  const rendered = renderDomainInterfaces(xml, domain, plan, readFileSync(TAP_TEMPLATE, 'utf8'));
  const reread = parseDomainXml(rendered);
  // Interfaces the operator wrote by hand with a vifd device name must agree with the plan.
  assertRenderedAsPlanned(reread, planDomain(reread, config));
  return { plan, xml: rendered };
}

export async function runDefine(options: DefineOptions, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let result;
  try {
    const config = loadClientConfig(options.config, err);
    result = renderDefinition(readFileSync(options.domainXml, 'utf8'), config);
    if (options.print) {
      out(options.json ? JSON.stringify({ ok: true, defined: false, xml: result.xml }) : result.xml);
      return 0;
    }
    const { LibvirtConnection } = await loadLibvirt();
    const connection = await LibvirtConnection.open({ uri: options.uri ?? config.libvirt.uri });
    try {
      await connection.defineDomain(result.xml);
    } finally {
      await connection.close();
    }
  } catch (error) {
    if (!(error instanceof VifdError)) throw error;
    if (options.json) out(JSON.stringify({ ok: false, code: error.code, reason: error.message, context: error.context }));
    else out(`refused: ${error.message}`);
    return 1;
  }
  if (options.json) out(JSON.stringify({ ok: true, defined: true, ...result.plan }));
  else out(`defined ${humanPlan(result.plan)}`);
  for (const warning of result.plan.warnings) err(`warning: ${warning}`);
  return 0;
}
