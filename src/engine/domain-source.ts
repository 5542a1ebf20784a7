// Where the engine learns which domains exist and what they want: a narrow
// interface (a fake in unit tests) and its libvirt adapter. The engine never
// calls libvirt from a hook's request: libvirt runs hooks while it holds the
// domain, so a call back for that domain would wait on the hook that waits on us.
import type { LibvirtConnection } from '../libvirt/connection.js';
import { LibvirtError } from '../libvirt/errors.js';

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

export class LibvirtDomainSource implements DomainSource {
  constructor(private readonly connection: LibvirtConnection) {}

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
}
