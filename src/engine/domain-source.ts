// Where the engine learns which domains exist and what they want: a narrow
// interface (a fake in unit tests) and its libvirt adapter. The engine never
// calls libvirt from a hook's request: libvirt runs hooks while it holds the
// domain, so a call back for that domain would wait on the hook that waits on us.
import type { AffectFlags, LibvirtConnection } from '../libvirt/connection.js';
import { LibvirtError } from '../libvirt/errors.js';
import { InvalidInputError, VifdError } from '../model/errors.js';

export interface DomainSummary {
  readonly uuid: string;
  readonly name: string;
  /** A QEMU process exists (running, paused, crashed-but-preserved...). */
  readonly active: boolean;
}

export interface DomainSnapshot extends DomainSummary {
  /** The live definition when active, the persistent one otherwise. */
  readonly xml: string;
}

export interface DomainSource {
  list(): Promise<DomainSummary[]>;
  /** null when no such domain exists (undefined, or transient and stopped). */
  get(uuid: string): Promise<DomainSnapshot | null>;
}

/** What hot-plug asks of libvirt: the definitions, vifd's metadata, device attach and detach. */
export interface DomainControl {
  /** By UUID or name; an unknown domain is refused naming what was asked for. */
  find(ref: string): Promise<DomainSummary & { readonly persistent: boolean }>;
  definition(uuid: string, which: 'live' | 'persistent'): Promise<string>;
  setIntent(uuid: string, metadata: string, flags: AffectFlags): Promise<void>;
  attachInterface(uuid: string, xml: string, flags: AffectFlags): Promise<void>;
  detachInterface(uuid: string, xml: string, flags: AffectFlags): Promise<void>;
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** libvirtd is reached in the background (it may be busy autostarting guests whose hooks wait on vifd). */
export class LibvirtNotConnectedError extends VifdError {
  readonly code = 'libvirt-not-connected';
}

export class LibvirtDomainSource implements DomainSource, DomainControl {
  /** `connection` returns null until libvirtd has been reached; calls then fail with a clear error. */
  constructor(private readonly current: () => LibvirtConnection | null, private readonly uri = 'libvirtd') {}

  private get connection(): LibvirtConnection {
    const connection = this.current();
    if (connection === null) throw new LibvirtNotConnectedError(`vifd has not reached ${this.uri} yet; try again shortly`);
    return connection;
  }

  async list(): Promise<DomainSummary[]> {
    const domains = await this.connection.listDomains();
    return domains.map((domain) => ({ uuid: domain.uuid, name: domain.name, active: domain.id !== -1 }));
  }

  async get(uuid: string): Promise<DomainSnapshot | null> {
    try {
      const info = await this.connection.getDomain({ uuid });
      const xml = await this.connection.domainXml({ uuid });
      return { uuid: info.uuid, name: info.name, active: info.id !== -1, xml };
    } catch (error) {
      if (error instanceof LibvirtError && error.isNoDomain) return null;
      throw error;
    }
  }

  async find(ref: string): Promise<DomainSummary & { readonly persistent: boolean }> {
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
    return this.connection.setMetadata({ uuid }, metadata, flags);
  }

  attachInterface(uuid: string, xml: string, flags: AffectFlags): Promise<void> {
    return this.connection.attachDevice({ uuid }, xml, flags);
  }

  detachInterface(uuid: string, xml: string, flags: AffectFlags): Promise<void> {
    return this.connection.detachDevice({ uuid }, xml, flags);
  }
}
