// `vifctl define DOMAIN.xml [--config FILE] [--uri URI] [--print] [--json]`:
// plans the VM's VIFs (the VIF limit is enforced here, at define), renders
// their <interface> elements into the definition and registers it with
// libvirt (--uri, else libvirt.uri from the config), so the rendered devices
// travel with the VM. --print shows the rendered XML instead of defining it.
// The libvirt binding is loaded only to define: --print and --help work on a
// host where libvirt.so cannot be loaded. Exit 0 defined, 1 refused, 3 no
// daemon to choose an SR-IOV VIF's VF.
// A Xen domain (<domain type='xen'>, libvirt's libxl driver) gets the
// interfaces that driver takes: type bridge, <script path='vif-vifd'/>, Xen's
// MAC prefix (src/sources/libvirt/xen-interfaces.ts).
// A VIF on an SR-IOV network gets its VF from the running daemon (--socket,
// else control_socket from the config), recorded in the metadata
// (src/cli/define-vfs.ts); with no daemon answering such a define exits 3.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { HostConfig } from '../config/schema.js';
import { parseDomainXml } from '../sources/libvirt/domain-xml.js';
import type { DomainDefinition } from '../sources/libvirt/domain-xml.js';
import { VifdError } from '../model/errors.js';
import { assertRenderedAsPlanned, planDomain } from '../sources/libvirt/intent.js';
import type { MacUser } from '../model/plan.js';
import { HOSTDEV_TEMPLATE, interfaceTemplateFor, renderDomainInterfaces } from '../sources/libvirt/render.js';
import type { LibvirtConnection } from '../libvirt/connection.js';
import { loadClientConfig } from './client-config.js';
import { NO_DEFINED_VFS, VfChooserUnavailableError, chooseVfs, definedVfs, recordIntent, withChosenVfs } from './define-vfs.js';
import type { DefinedVfs } from './define-vfs.js';
import { loadLibvirt } from './load-libvirt.js';
import { humanPlan } from './plan.js';
import { readDefinitionFile } from './read-definition.js';

export interface DefineOptions {
  readonly domainXml: string;
  readonly config?: string;
  /** Absent: libvirt.uri from the config. */
  readonly uri?: string;
  /** Absent: control_socket from the config (the daemon chooses SR-IOV VIFs' VFs). */
  readonly socket?: string;
  readonly print: boolean;
  readonly json: boolean;
}

export function parseDefineArgs(argv: readonly string[]): DefineOptions {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: {
      config: { type: 'string' }, uri: { type: 'string' }, socket: { type: 'string' },
      print: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
    },
  });
  const [domainXml, ...extra] = positionals;
  if (domainXml === undefined || extra.length > 0) throw new Error('expects exactly one DOMAIN.xml');
  return {
    domainXml, print: values.print, json: values.json,
    ...(values.uri === undefined ? {} : { uri: values.uri }), ...(values.config === undefined ? {} : { config: values.config }),
    ...(values.socket === undefined ? {} : { socket: values.socket }),
  };
}

/** Every other definition on the host, parsed; one that cannot be read is skipped with a warning. */
async function hostDefinitions(connection: LibvirtConnection, warn: (line: string) => void): Promise<{ name: string; definition: DomainDefinition }[]> {
  const definitions: { name: string; definition: DomainDefinition }[] = [];
  for (const other of await connection.listDomains()) {
    try {
      definitions.push({ name: other.name, definition: parseDomainXml(await connection.domainXml({ uuid: other.uuid })) });
    } catch (error) {
      warn(`warning: cannot read the definition of VM ${JSON.stringify(other.name)} to check MACs and VFs: ${(error as Error).message}`);
    }
  }
  return definitions;
}

/**
 * Every MAC the host's other domains use, with who uses it: an explicit MAC
 * of the new VM that is taken is refused here (invariant 6), and a derived
 * one moves on, so the MAC rendered now is the one prepare will plan.
 */
function macUsers(definitions: readonly { name: string; definition: DomainDefinition }[], uuid: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const { name, definition } of definitions) {
    if (definition.uuid === uuid) continue;
    const user = `VM ${JSON.stringify(name)} (${definition.uuid})`;
    for (const mac of definition.interfaces.flatMap((entry) => (entry.mac === undefined ? [] : [entry.mac.toLowerCase()]))) users.set(mac, user);
    for (const vif of definition.intent?.vifs ?? []) if (vif.mac !== undefined) users.set(vif.mac.toLowerCase(), user);
  }
  return users;
}

/** The definition with a VF recorded for every SR-IOV VIF (chosen by the daemon), warnings for VFs shared with stopped VMs. */
async function withVfs(xml: string, config: HostConfig, options: DefineOptions, defined: DefinedVfs, err: (line: string) => void): Promise<string> {
  const domain = parseDomainXml(xml);
  const chosen = await chooseVfs(domain, config, options.socket ?? config.controlSocket, defined, err);
  for (const vf of chosen) {
    if (vf.sharedWith !== undefined) err(`warning: VIF ${vf.index}: VF ${vf.address} of network ${vf.network} is also ${vf.sharedWith}; the two VMs cannot run at the same time`);
  }
  const unrecorded = chosen.filter((vf) => vf.how !== 'recorded');
  return unrecorded.length === 0 || domain.intent === null ? xml : recordIntent(xml, domain, withChosenVfs(domain.intent, unrecorded));
}

/**
 * Only explicit MACs are checked against stopped VMs: prepare plans derived
 * MACs against running VMs alone, and the MAC rendered now must be the one it plans.
 */
function explicitOnly(domain: DomainDefinition, users: ReadonlyMap<string, string>): MacUser {
  const explicit = new Set((domain.intent?.vifs ?? []).flatMap((vif) => (vif.mac === undefined ? [] : [vif.mac.toLowerCase()])));
  return (mac) => (explicit.has(mac) ? users.get(mac) ?? null : null);
}

/** The definition as vifd will accept it at prepare, or the refusal. */
export function renderDefinition(xml: string, config: HostConfig, macUser: MacUser = () => null) {
  const domain = parseDomainXml(xml);
  const plan = planDomain(domain, config, macUser);
  // A Xen domain (libvirt's libxl driver) gets bridge interfaces that run vifd's Xen hotplug script.
  const rendered = renderDomainInterfaces(xml, domain, plan, readFileSync(interfaceTemplateFor(domain), 'utf8'), readFileSync(HOSTDEV_TEMPLATE, 'utf8'));
  const reread = parseDomainXml(rendered);
  // Interfaces the operator wrote by hand with a vifd device name must agree with the plan.
  assertRenderedAsPlanned(reread, planDomain(reread, config, macUser));
  return { plan, xml: rendered };
}

const EXIT_NO_DAEMON = 3;

export async function runDefine(options: DefineOptions, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let result;
  try {
    const config = loadClientConfig(options.config, err);
    const xml = readDefinitionFile(options.domainXml);
    if (options.print) {
      result = renderDefinition(await withVfs(xml, config, options, NO_DEFINED_VFS, err), config);
      out(options.json ? JSON.stringify({ ok: true, defined: false, xml: result.xml }) : result.xml);
      return 0;
    }
    const { LibvirtConnection } = await loadLibvirt();
    const connection = await LibvirtConnection.open({ uri: options.uri ?? config.libvirt.uri });
    try {
      const domain = parseDomainXml(xml);
      const definitions = await hostDefinitions(connection, err);
      const users = macUsers(definitions, domain.uuid);
      const recorded = await withVfs(xml, config, options, definedVfs(domain.uuid, definitions), err);
      result = renderDefinition(recorded, config, explicitOnly(parseDomainXml(recorded), users));
      for (const vif of result.plan.vifs) {
        const user = vif.macSource === 'derived' ? users.get(vif.mac) : undefined;
        if (user !== undefined) err(`warning: VIF ${vif.index}: derived MAC ${vif.mac} is also used by ${user}; the two VMs cannot run at the same time`);
      }
      await connection.defineDomain(result.xml);
    } finally {
      await connection.close();
    }
  } catch (error) {
    if (!(error instanceof VifdError)) throw error;
    if (options.json) out(JSON.stringify({ ok: false, code: error.code, reason: error.message, context: error.context }));
    else out(`refused: ${error.message}`);
    return error instanceof VfChooserUnavailableError ? EXIT_NO_DAEMON : 1;
  }
  if (options.json) out(JSON.stringify({ ok: true, defined: true, ...result.plan }));
  else out(`defined ${humanPlan(result.plan)}`);
  for (const warning of result.plan.warnings) err(`warning: ${warning}`);
  return 0;
}
