// What vifd's libvirt-side actions (hot-plug, re-plug) need of libvirt and of
// the daemon's log; narrow, so unit tests pass in-memory ones.
import type { AffectFlags } from '../../libvirt/connection.js';
import type { VmSummary } from '../../model/contracts.js';

/** What hot-plug asks of libvirt: the definitions, vifd's metadata, device attach and detach. */
export interface DomainControl {
  /** By UUID or name; an unknown domain is refused naming what was asked for. */
  find(ref: string): Promise<VmSummary & { readonly persistent: boolean }>;
  definition(uuid: string, which: 'live' | 'persistent'): Promise<string>;
  setIntent(uuid: string, metadata: string, flags: AffectFlags): Promise<void>;
  attachInterface(uuid: string, xml: string, flags: AffectFlags): Promise<void>;
  detachInterface(uuid: string, xml: string, flags: AffectFlags): Promise<void>;
}

export interface SourceLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
