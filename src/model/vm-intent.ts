// What a VM wants of its VIFs, whatever told vifd about it: libvirt's domain
// definition, Xen's hotplug scripts or XAPI. Sources turn their world into
// this; the planner, the engine and the VIF kinds see nothing else.
import type { VlanSettings } from './vlan.js';

/** One VIF vifd manages. `kind` names the VIF kind that plugs it (src/kinds/). */
export interface VifIntent {
  /** The VIF's index (device name and MAC derive from it). */
  readonly index: number;
  readonly kind: 'tap';
  /** The host network (config `networks`) it joins. */
  readonly network: string;
  /** An explicit MAC; otherwise one is derived from the VM's UUID and the index. */
  readonly mac?: string;
  /** An access VLAN for this VIF instead of its network's (raw text, validated by the planner). */
  readonly vlan?: string;
}

/**
 * An interface of the VM that vifd does not plug but counts toward the VIF
 * limit: one its source plugs into Open vSwitch itself (described by
 * `vifctl plan`), or one vifd does not understand (a warning).
 */
export type OtherInterface =
  | {
    readonly kind: 'ovs';
    /** Who plugs it, e.g. "libvirt" (shown as "libvirt-ovs"). */
    readonly pluggedBy: string;
    readonly bridge: string;
    readonly vlan: VlanSettings;
    readonly device?: string;
    readonly mac?: string;
  }
  | { readonly kind: 'unmanaged'; readonly description: string };

export interface VmIdentity {
  readonly uuid: string;
  readonly name: string;
}

export interface VmIntent extends VmIdentity {
  readonly vifs: readonly VifIntent[];
  readonly others: readonly OtherInterface[];
  /** The VM's own VIF limit override, raw text, checked against the host's cap by the planner. */
  readonly vifLimit?: string;
}
