// libvirt as a source of VMs: domains become VM intents (their definitions'
// vifd metadata), and the libvirt-only actions live here: the intent kept in
// metadata, interfaces detached by other tools, re-plugging a NIC whose TAP
// was recreated. The engine never calls libvirt from a hook's request:
// libvirt runs hooks while it holds the domain, so a call back for that
// domain would wait on the hook that waits on vifd.
import type { AffectFlags, LibvirtConnection } from '../../libvirt/connection.js';
import { LibvirtError } from '../../libvirt/errors.js';
import type { RunningRead, VmSnapshot, VmSource, VmSummary } from '../../model/contracts.js';
import { InvalidInputError, VifdError } from '../../model/errors.js';
import { vifIndexOfDevice } from '../../model/names.js';
import { VIFD_XML_NS } from '../../model/xmlns.js';
import type { DesiredVif } from '../../model/plan.js';
import type { VmIdentity } from '../../model/vm-intent.js';
import type { DomainDefinition, VifdIntent } from './domain-xml.js';
import { definitionRead, domainIntent } from './intent.js';
import { renderIntentMetadata, withoutVif } from './metadata.js';
import type { DomainControl, SourceLog } from './control.js';
import type { Replug } from './replug.js';
import { runningView } from './running-vm.js';
import { parseDomainXmlAsync } from './xml-parse.js';

/** Where vifd keeps a VM's intent in its definition (libvirt adds the prefix and namespace to the element). */
const VIFD_METADATA = { uri: VIFD_XML_NS, prefix: 'vifd' } as const;

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** libvirtd is reached in the background (it may be busy autostarting guests whose hooks wait on vifd). */
export class LibvirtNotConnectedError extends VifdError {
  readonly code = 'libvirt-not-connected';
}

export interface LibvirtSourceOptions {
  /** Returns null until libvirtd has been reached; calls then fail with a clear error. */
  readonly connection: () => LibvirtConnection | null;
  readonly uri?: string;
  readonly log?: SourceLog;
}

export class LibvirtDomainSource implements VmSource, DomainControl {
  /** Per running VM, its vifd interfaces in the live definition at the last look. */
  private readonly rendered = new Map<string, ReadonlySet<string>>();
  /** Devices being re-plugged: briefly absent from the live definition, and not detached. */
  private readonly replugging = new Set<string>();
  /** Re-plugs NICs whose TAP was recreated under a running VM; without it they stay detached from QEMU. */
  private replug: Replug | undefined;

  constructor(private readonly options: LibvirtSourceOptions) {}

  /** Set after construction: the re-plug itself goes through this source's DomainControl. */
  useReplug(replug: Replug): void {
    this.replug = replug;
  }

  private get connection(): LibvirtConnection {
    const connection = this.options.connection();
    if (connection === null) throw new LibvirtNotConnectedError(`vifd has not reached ${this.options.uri ?? 'libvirtd'} yet; try again shortly`);
    return connection;
  }

  async list(): Promise<VmSummary[]> {
    const domains = await this.connection.listDomains();
    return domains.map((domain) => ({ uuid: domain.uuid, name: domain.name, active: domain.id !== -1 }));
  }

  /** The domain's definition (live when it runs) is read now; it is parsed when the engine asks. */
  async get(uuid: string): Promise<VmSnapshot | null> {
    let summary: VmSummary;
    let xml: string;
    try {
      const info = await this.connection.getDomain({ uuid });
      xml = await this.connection.domainXml({ uuid });
      summary = { uuid: info.uuid, name: info.name, active: info.id !== -1 };
    } catch (error) {
      if (error instanceof LibvirtError && error.isNoDomain) return null;
      throw error;
    }
    return {
      ...summary,
      running: async () => this.runningRead(await parseDomainXmlAsync(xml)),
      definition: async () => definitionRead(await parseDomainXmlAsync(xml)),
    };
  }

  /**
   * The running VM's live view (running-vm.ts). Entries another tool detached
   * leave its intent, here and in its metadata.
   */
  private runningRead(domain: DomainDefinition): RunningRead {
    const before = [...(this.rendered.get(domain.uuid) ?? [])].filter((device) => !this.replugging.has(device));
    const view = runningView(domain, new Set(before));
    this.rendered.set(domain.uuid, view.rendered);
    if (view.detachedElsewhere.length > 0) this.dropIntent(domain, view.intent, view.detachedElsewhere);
    return { intent: domainIntent(domain, view.intent), present: view.renderedIndexes };
  }

  /** A stopped VM's interfaces are no longer open: the next start is a fresh look. */
  forgetRunning(uuid: string): void {
    this.rendered.delete(uuid);
  }

  /**
   * Written outside the VM's queue: a libvirt call on a VM that is stopping
   * waits for libvirt's release hook, which waits for that queue.
   */
  private dropIntent(domain: DomainDefinition, intent: VifdIntent, indexes: readonly number[]): void {
    const log = this.options.log;
    log?.info(`VIF(s) ${indexes.join(', ')} of VM ${JSON.stringify(domain.name)} were detached by another tool; dropping them from its intent`, { vmUuid: domain.uuid });
    const remaining = indexes.reduce((current, index) => withoutVif(current, index), intent);
    setImmediate(() => {
      this.setIntent(domain.uuid, renderIntentMetadata(remaining), { live: true }).catch((error: unknown) => {
        log?.warn(`could not update the intent of VM ${JSON.stringify(domain.name)}: ${(error as Error).message}`, { vmUuid: domain.uuid });
      });
    });
  }

  /** TAPs recreated under interfaces QEMU already had open: it holds the deleted devices, so the NICs are re-plugged. */
  async recreated(vm: VmIdentity, vifs: readonly DesiredVif[]): Promise<boolean> {
    const replug = this.replug;
    const open = this.rendered.get(vm.uuid) ?? new Set<string>();
    const stale = vifs.filter((vif) => open.has(vif.device) && !this.replugging.has(vif.device));
    if (replug === undefined || stale.length === 0) return false;
    for (const vif of stale) this.replugging.add(vif.device);
    try {
      await new Promise((resolve) => setImmediate(resolve)); // out of the VM's queue first
      await replug(vm.uuid, vm.name, stale);
    } finally {
      for (const vif of stale) this.replugging.delete(vif.device);
    }
    return true;
  }

  /** The VIF index of the interface libvirt names by `alias` (device events name devices so). */
  async vifIndexOfAlias(uuid: string, alias: string): Promise<number | null> {
    const domain = await parseDomainXmlAsync(await this.connection.domainXml({ uuid }));
    const device = domain.interfaces.find((definition) => definition.alias === alias)?.targetDev;
    return vifIndexOfDevice(uuid, device);
  }

  async find(ref: string): Promise<VmSummary & { readonly persistent: boolean }> {
    try {
      const info = await this.connection.getDomain(UUID_TEXT.test(ref) ? { uuid: ref.toLowerCase() } : { name: ref });
      return { uuid: info.uuid, name: info.name, active: info.id !== -1, persistent: info.persistent };
    } catch (error) {
      if (error instanceof LibvirtError && error.isNoDomain) throw new InvalidInputError(`no domain ${JSON.stringify(ref)} on this host`, { field: 'domain' });
      throw error;
    }
  }

  definition(uuid: string, which: 'live' | 'persistent'): Promise<string> {
    return this.connection.domainXml({ uuid }, { inactive: which === 'persistent' });
  }

  setIntent(uuid: string, metadata: string, flags: AffectFlags): Promise<void> {
    return this.connection.setMetadata({ uuid }, VIFD_METADATA, metadata, flags);
  }

  attachInterface(uuid: string, xml: string, flags: AffectFlags): Promise<void> {
    return this.connection.attachDevice({ uuid }, xml, flags);
  }

  detachInterface(uuid: string, xml: string, flags: AffectFlags): Promise<void> {
    return this.connection.detachDevice({ uuid }, xml, flags);
  }
}
