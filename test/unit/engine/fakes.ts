// In-memory stand-ins for the host, libvirt's domain list and libvirt's
// domain control, shared by the engine's unit tests.
import type { Engine, PrepareRequest } from '../../../src/engine/engine.js';
import type { EngineLog, PrepareVerdict } from '../../../src/engine/types.js';
import type { KindHosts } from '../../../src/kinds/registry.js';
import type { AffectFlags, LibvirtConnection, MetadataNamespace } from '../../../src/libvirt/connection.js';
import { LIBVIRT_ERROR, LibvirtError } from '../../../src/libvirt/errors.js';
import { HostOperationError } from '../../../src/host/errors.js';
import type { LinkSettings, LinkState } from '../../../src/host/net-devices.js';
import type { OwnedPort, VifPortSpec } from '../../../src/host/ovsdb/ports.js';
import { ownedPortAsWritten } from '../../../src/host/ovsdb/port-columns.js';
import type { TapSpec, TapState } from '../../../src/host/tap.js';
import { InvalidInputError } from '../../../src/model/errors.js';
import { KVM_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import type { PlanSettings } from '../../../src/model/plan.js';
import type { DomainControl } from '../../../src/sources/libvirt/control.js';
import { parseDomainXml } from '../../../src/sources/libvirt/domain-xml.js';
import { prepareFromHook, releaseFromHook } from '../../../src/sources/libvirt/hook-requests.js';
import { planDomain } from '../../../src/sources/libvirt/intent.js';
import { renderTapInterface } from '../../../src/sources/libvirt/render.js';
import { LibvirtDomainSource } from '../../../src/sources/libvirt/source.js';

export const VM_A = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
export const VM_B = '9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11';
export const TEMPLATE = "<interface type='ethernet'><mac address='{{mac}}'/><target dev='{{device}}' managed='no'/>{{mtu}}</interface>";

export const settings: PlanSettings = {
  macPrefix: parseMacPrefix(KVM_MAC_PREFIX),
  vifLimit: { default: 7, max: 16 },
  networks: new Map([['prod', { bridge: 'br-prod', vlan: { mode: 'access', tag: 100 } }], ['stor', { bridge: 'br-stor', vlan: { mode: 'trunk', trunks: [200, 201] } }]]),
};

/** A domain definition with `count` vifd VIFs, rendered as vifctl would. */
export function domainXml(uuid: string, name: string, networks: string[], options: { render?: boolean; macs?: readonly (string | undefined)[] } = {}): string {
  const mac = (index: number): string => { const explicit = options.macs?.[index]; return explicit === undefined ? '' : ` mac="${explicit}"`; };
  const intent = `<metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">${networks.map((n, index) => `<vifd:vif network="${n}"${mac(index)}/>`).join('')}</vifd:vifd></metadata>`;
  const bare = `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid>${intent}<devices></devices></domain>`;
  if (options.render === false) return bare;
  const plan = planDomain(parseDomainXml(bare), { ...settings, vifLimit: { default: 16, max: 16 } });
  return bare.replace('<devices></devices>', `<devices>${plan.vifs.map((vif) => renderTapInterface(TEMPLATE, vif)).join('')}</devices>`);
}

/** libvirt's prepare and release hooks, as the daemon hands them to the engine. */
export const prepareXml = (engine: Engine, xml: string): Promise<PrepareVerdict> => engine.prepare(prepareFromHook(xml) satisfies PrepareRequest);
export const releaseXml = (engine: Engine, xml: string): Promise<{ removed: number }> => engine.release(releaseFromHook(xml));

export class FakeHost implements KindHosts {
  readonly tapsByName = new Map<string, TapState>();
  readonly portsByName = new Map<string, OwnedPort>();
  failPort: string | null = null;
  /** Ports taken out and put back (a recreated TAP's port is re-added so ovs-vswitchd opens the new device). */
  readonly removedPorts: string[] = [];
  /** Devices Xen's netback made; each reads as netback leaves a new one (fe:ff:ff:ff:ff:ff, MTU 1500, down) until configured. */
  readonly netDevices = new Set<string>();
  readonly links = new Map<string, LinkState>();
  /** OpenFlow rules per bridge, as flow-file add lines; a delete line or remove drops those with its cookie. */
  readonly flowsByBridge = new Map<string, string[]>();
  readonly flows = {
    apply: (bridge: string, lines: readonly string[]): Promise<void> => {
      let rules = this.flowsByBridge.get(bridge) ?? [];
      for (const line of lines) {
        const [verb, rest = ''] = line.split(' ', 2);
        if (verb === 'delete') rules = rules.filter((rule) => !rule.startsWith(rest.replace(/\/-1$/, '')));
        else rules.push(rest);
      }
      this.flowsByBridge.set(bridge, rules);
      return Promise.resolve();
    },
    remove: (bridge: string, cookieMatch: string): Promise<void> => {
      const cookie = `cookie=${cookieMatch.replace(/\/-1$/, '')}`;
      this.flowsByBridge.set(bridge, (this.flowsByBridge.get(bridge) ?? []).filter((rule) => !rule.startsWith(cookie)));
      return Promise.resolve();
    },
  };

  readonly devices = {
    exists: (name: string) => this.netDevices.has(name),
    read: (name: string): LinkState | null => (this.netDevices.has(name) ? this.links.get(name) ?? { mac: 'fe:ff:ff:ff:ff:ff', mtu: 1500, up: false } : null),
    configure: (name: string, want: LinkSettings): string[] => {
      const current = this.devices.read(name);
      if (current === null) throw new HostOperationError(`device ${name} does not exist`, { field: 'device' });
      const next = { ...current, ...want };
      this.links.set(name, next);
      return (['mac', 'mtu', 'up'] as const).filter((key) => next[key] !== current[key]);
    },
    down: (name: string): boolean => {
      const current = this.devices.read(name);
      if (current !== null) this.links.set(name, { ...current, up: false });
      return current !== null;
    },
  };

  readonly taps = {
    ensure: (spec: TapSpec) => {
      const created = !this.tapsByName.has(spec.name);
      this.tapsByName.set(spec.name, { name: spec.name, multiQueue: false, vnetHdr: false, owner: null, group: null,
        mac: spec.mac ?? '', mtu: spec.mtu ?? 1500, up: true, alias: spec.alias ?? null });
      return { created, changed: [] };
    },
    delete: (name: string) => this.tapsByName.delete(name),
    list: () => [...this.tapsByName.values()],
    listKnown: () => [...this.tapsByName.values()],
  };

  readonly ports = {
    owned: {
      all: () => [...this.portsByName.values()],
      ofVm: (uuid: string) => [...this.portsByName.values()].filter((port) => port.externalIds['vm-uuid'] === uuid),
      macUsers: (mac: string, which: (port: OwnedPort) => boolean = () => true) => [...this.portsByName.values()]
        .filter((port) => port.externalIds['attached-mac'] === mac && which(port)).map((port) => port.externalIds['vm-uuid'] ?? ''),
    },
    ensure: (spec: VifPortSpec) => {
      if (spec.name === this.failPort) return Promise.reject(new InvalidInputError('bridge "br-prod" does not exist', { field: 'bridge' }));
      this.portsByName.set(spec.name, ownedPortAsWritten(spec, { ofport: 1, error: null }));
      return Promise.resolve({ name: spec.name, ofport: 1 });
    },
    remove: (name: string) => { this.removedPorts.push(name); this.portsByName.delete(name); return Promise.resolve(); },
  };
}

export interface FakeDomain {
  readonly uuid: string;
  readonly name: string;
  readonly active: boolean;
  readonly xml: string;
}

/**
 * The libvirt source over an in-memory libvirt: the engine's unit tests run
 * the same source code as the daemon (live views, intent drops, re-plugs).
 * `xmlOf` may be replaced to serve another holder's definitions (hot-plug's FakeControl).
 */
export class FakeDomains extends LibvirtDomainSource {
  readonly domains = new Map<string, FakeDomain>();
  gets = 0;
  readonly metadataWrites: string[] = [];

  constructor() {
    const noDomain = (): LibvirtError => new LibvirtError('no domain', {}, { libvirtCode: LIBVIRT_ERROR.noDomain });
    const find = (uuid: string): FakeDomain => { const domain = this.domains.get(uuid); if (domain === undefined) throw noDomain(); return domain; };
    const connection = {
      listDomains: () => Promise.resolve([...this.domains.values()].map(({ uuid, name, active }) => ({ uuid, name, id: active ? 1 : -1, persistent: true }))),
      getDomain: async ({ uuid }: { uuid: string }) => { this.gets++; await Promise.resolve(); const { name, active } = find(uuid); return { uuid, name, id: active ? 1 : -1, persistent: true }; },
      domainXml: async ({ uuid }: { uuid: string }) => { await Promise.resolve(); return this.xmlOf(uuid) ?? find(uuid).xml; },
      setMetadata: (ref: { uuid: string }, _namespace: MetadataNamespace, xml: string, flags: AffectFlags) => this.metadataSink(ref.uuid, xml, flags),
    } as unknown as LibvirtConnection;
    super({ connection: () => connection });
  }

  xmlOf: (uuid: string) => string | undefined = () => undefined;
  metadataSink: (uuid: string, xml: string, flags: AffectFlags) => Promise<void> = (uuid, xml) => { this.metadataWrites.push(`${uuid} ${xml}`); return Promise.resolve(); };
}

export const quietLog: EngineLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/**
 * libvirt's side of hot-plug for one running VM: live and persistent XML,
 * vifd's metadata replaced in place, interfaces added and removed. A guest
 * that does not release a NIC, and a libvirt that refuses an attach, can be set.
 */
export class FakeControl implements DomainControl {
  live: string;
  persistent: string;
  refuseAttach: string | null = null;
  guestReleases = true;
  readonly calls: string[] = [];

  constructor(readonly uuid: string, readonly name: string, xml: string) {
    this.live = xml;
    this.persistent = xml;
  }

  find(ref: string) {
    if (ref !== this.uuid && ref !== this.name) return Promise.reject(new InvalidInputError(`no domain ${JSON.stringify(ref)} on this host`, { field: 'domain' }));
    return Promise.resolve({ uuid: this.uuid, name: this.name, active: true, persistent: true });
  }

  definition(_uuid: string, which: 'live' | 'persistent') {
    return Promise.resolve(which === 'live' ? this.live : this.persistent);
  }

  private edit(flags: AffectFlags, change: (xml: string) => string): void {
    if (flags.live === true) this.live = change(this.live);
    if (flags.config === true) this.persistent = change(this.persistent);
  }

  setIntent(_uuid: string, metadata: string, flags: AffectFlags) {
    this.calls.push(`setIntent ${flags.live === true ? 'live' : 'config'}`);
    const element = metadata.replace('<vifd>', '<vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">').replace('</vifd>', '</vifd:vifd>')
      .replace(/<(\/?)(vif|vif-limit)([ >/])/g, '<$1vifd:$2$3');
    this.edit(flags, (xml) => xml.replace(/<vifd:vifd [\s\S]*?<\/vifd:vifd>/, element));
    return Promise.resolve();
  }

  attachInterface(_uuid: string, xml: string, flags: AffectFlags) {
    this.calls.push('attach');
    if (this.refuseAttach !== null) return Promise.reject(new InvalidInputError(this.refuseAttach, {}));
    this.edit(flags, (current) => current.replace('</devices>', `${xml}</devices>`));
    return Promise.resolve();
  }

  detachInterface(_uuid: string, xml: string, flags: AffectFlags) {
    this.calls.push('detach');
    const mac = /mac address='([^']+)'/.exec(xml)?.[1] ?? '';
    const remove = (current: string): string => current.replace(new RegExp(`<interface type='ethernet'><mac address='${mac}'/>[\\s\\S]*?</interface>`), '');
    this.edit({ config: flags.config === true, live: flags.live === true && this.guestReleases }, remove);
    return Promise.resolve();
  }
}
