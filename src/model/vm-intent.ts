// What a VM wants of its VIFs, whatever told vifd about it: libvirt's domain
// definition, Xen's hotplug scripts or XAPI. Sources turn their world into
// this; the planner, the engine and the VIF kinds see nothing else.
import type { VlanSettings } from './vlan.js';

/** A TAP vifd creates and plugs (src/kinds/tap-ovs). */
export interface TapVifIntent {
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

/** What XAPI's xenopsd tells of a VIF (the keys other tools read on the port). */
export interface XapiVifIdentity {
  /** The VM's uuid in XAPI (xs-vm-uuid): during an incoming migration not the domain's. */
  readonly vmUuid: string;
  readonly vifUuid: string;
  readonly networkUuid: string;
}

/**
 * A device Xen's netback (vifD.N) or the toolstack (tapD.N, vifD.N-emu)
 * created; vifd plugs it into its bridge as its hotplug script asks
 * (src/kinds/netback). The bridge is already resolved: a fake bridge is its
 * parent with the fake bridge's tag.
 */
export interface NetbackVifIntent {
  /** The Xen devid. A PV device and its emulated twin share it (and count once). */
  readonly index: number;
  readonly kind: 'netback';
  readonly device: string;
  /** The bridge as the toolstack named it (a fake bridge's own name), for status. */
  readonly network: string;
  readonly bridge: string;
  readonly vlan: VlanSettings;
  readonly mtu?: number;
  /** The guest's MAC as the toolstack assigned it. */
  readonly mac: string;
  /** xen-vm-name: untrusted text, stored and shown, never used as a name on the host. */
  readonly vmName?: string;
  readonly xapi?: XapiVifIdentity;
  /**
   * XAPI's locking_mode for a VIF that has a port (xenopsd's private
   * `locking-mode`): `unlocked` lets any traffic through; `locked` lets only
   * the guest's MAC and the allowed addresses through (OpenFlow rules on the
   * port). `disabled` means no port at all, so it is never an intent.
   */
  readonly lockingMode?: XenPortLockingMode;
  /** XAPI's ipv4_allowed / ipv6_allowed for a `locked` VIF (none listed: no IP traffic of that family). */
  readonly ipv4Allowed?: readonly string[];
  readonly ipv6Allowed?: readonly string[];
}

export type XenPortLockingMode = 'unlocked' | 'locked';
/**
 * A VIF on an SR-IOV network: a VF of one of the network's PFs, handed to the
 * guest as a hostdev interface (src/kinds/sriov-vf).
 */
export interface SriovVifIntent {
  readonly index: number;
  readonly kind: 'sriov-vf';
  readonly network: string;
  readonly mac?: string;
  /**
   * The VF's PCI address as the VM's definition records it (invariant 1): the
   * VF it gets again. Absent when none was chosen yet (define, hot-plug).
   */
  readonly vf?: string;
}

/** One VIF vifd manages. `kind` names the VIF kind that plugs it (src/kinds/). */
export type VifIntent = TapVifIntent | NetbackVifIntent | SriovVifIntent;

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
