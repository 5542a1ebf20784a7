// The seam between the simulated xapi and what xenopsd would do on a real
// host. A later xenopsd stand-in plugs in here to create `vifD.N` TAPs, write
// the xenstore keys and run the vif hotplug script; the simulator publishes
// Running / currently_attached only after the hook it awaits has resolved,
// and a hook that rejects fails the XAPI call (with the hook's XapiFailure
// code, else INTERNAL_ERROR) and leaves the records as they were.
import type { SimRecord } from './schema.js';

export interface SimVmView {
  readonly ref: string;
  readonly uuid: string;
  /** The domid the VM has (or, during start, is about to get). */
  readonly domid: number;
  /** The host it runs on (or starts on). */
  readonly hostRef: string;
  readonly record: SimRecord;
}

export interface SimVifView {
  readonly ref: string;
  readonly uuid: string;
  /** N in vifD.N. */
  readonly device: number;
  readonly record: SimRecord;
  readonly networkRecord: SimRecord;
}

export interface XenopsdHooks {
  /** The domain exists (domid allocated); before any VIF is plugged. */
  onVmStart?(vm: SimVmView): Promise<void>;
  /** At VM start (each VIF, in device order) and at VIF.plug on a running VM. */
  onVifPlug?(vm: SimVmView, vif: SimVifView): Promise<void>;
  /** At VIF.unplug, at shutdown (each attached VIF) and when a start is rolled back. */
  onVifUnplug?(vm: SimVmView, vif: SimVifView): Promise<void>;
  /** After the VIFs are unplugged, before Halted is published. */
  onVmShutdown?(vm: SimVmView): Promise<void>;
  /** The domain moves: `vm` is the source side, `to` the destination (new domid, new host). */
  onVmMigrate?(vm: SimVmView, to: SimVmView): Promise<void>;
}
