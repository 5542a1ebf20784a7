// In-memory stand-ins for the host, libvirt's domain list and libvirt's
// domain control, shared by the engine's unit tests.
import type { DomainControl, DomainSnapshot, DomainSource } from '../../../src/engine/domain-source.js';
import type { EngineLog } from '../../../src/engine/types.js';
import type { HostEffectors } from '../../../src/engine/executor.js';
import type { AffectFlags } from '../../../src/libvirt/connection.js';
import type { OwnedPort, VifPortSpec } from '../../../src/host/ovsdb/ports.js';
import { ownedPortAsWritten } from '../../../src/host/ovsdb/port-columns.js';
import type { TapSpec, TapState } from '../../../src/host/tap.js';
import { InvalidInputError } from '../../../src/model/errors.js';
import { KVM_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { planDomain } from '../../../src/model/plan.js';
import type { PlanSettings } from '../../../src/model/plan.js';
import { parseDomainXml } from '../../../src/model/domain-xml.js';
import { renderTapInterface } from '../../../src/model/render.js';

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

export class FakeHost implements HostEffectors {
  readonly tapsByName = new Map<string, TapState>();
  readonly portsByName = new Map<string, OwnedPort>();
  failPort: string | null = null;
  /** Ports taken out and put back (a recreated TAP's port is re-added so ovs-vswitchd opens the new device). */
  readonly removedPorts: string[] = [];

  readonly taps = {
    ensure: (spec: TapSpec) => {
      const created = !this.tapsByName.has(spec.name);
      this.tapsByName.set(spec.name, { name: spec.name, multiQueue: false, vnetHdr: false, owner: null, group: null,
        mac: spec.mac ?? '', mtu: spec.mtu ?? 1500, up: true, alias: spec.alias ?? null });
      return { created, changed: [] };
    },
    delete: (name: string) => this.tapsByName.delete(name),
    list: () => [...this.tapsByName.values()],
  };

  readonly ports = {
    ensure: (spec: VifPortSpec) => {
      if (spec.name === this.failPort) return Promise.reject(new InvalidInputError('bridge "br-prod" does not exist', { field: 'bridge' }));
      this.portsByName.set(spec.name, ownedPortAsWritten(spec, { ofport: 1, error: null }));
      return Promise.resolve({ name: spec.name, ofport: 1 });
    },
    remove: (name: string) => { this.removedPorts.push(name); this.portsByName.delete(name); return Promise.resolve(); },
  };

  ownedPorts(): OwnedPort[] {
    return [...this.portsByName.values()];
  }

}

export class FakeDomains implements DomainSource {
  readonly domains = new Map<string, DomainSnapshot>();
  gets = 0;

  list() {
    return Promise.resolve([...this.domains.values()].map(({ uuid, name, active }) => ({ uuid, name, active })));
  }

  get(uuid: string) {
    this.gets++;
    return Promise.resolve(this.domains.get(uuid) ?? null);
  }
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
