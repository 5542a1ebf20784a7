// Desired against observed, for one domain or for the whole host (pure). The
// engine feeds it what the planner wants and what OVSDB and sysfs show; it
// returns each VIF's state for status and metrics, and the typed steps that
// make the host match. Nothing here does I/O, so every decision the daemon
// takes about drift and orphans is asserted in unit tests with no host.
import { EXTERNAL_ID } from '../host/ovsdb/ports.js';
import type { OwnedPort } from '../host/ovsdb/ports.js';
import type { TapState } from '../host/tap.js';
import type { TapVifPlan } from '../model/plan.js';
import type { VlanSettings } from '../model/vlan.js';

/** A VIF the host must have: the planner's TAP VIF plus whose it is. */
export interface DesiredVif extends TapVifPlan {
  readonly vmUuid: string;
  readonly vmName: string;
}

/** vifd's mark on a TAP (its ifalias): `vifd:<vm-uuid>/<index>`. */
export const TAP_ALIAS_PREFIX = 'vifd:';
export const tapAlias = (vmUuid: string, index: number): string => `${TAP_ALIAS_PREFIX}${vmUuid}/${index}`;

export function parseTapAlias(alias: string | null): { vmUuid: string; index: number } | null {
  const match = alias === null ? null : /^vifd:([0-9a-f-]{36})\/(\d{1,3})$/.exec(alias);
  if (match === null) return null;
  return { vmUuid: match[1] ?? '', index: Number(match[2]) };
}

/**
 * The TAP's own MAC: the guest's with the first octet 0xfe, as libvirt does for
 * the TAPs it makes, so the host side never answers for the guest's address.
 */
export const hostSideMac = (guestMac: string): string => `fe${guestMac.slice(2)}`;

/** Something vifd owns on the host, from OVSDB and sysfs together. */
export interface ObservedVif {
  readonly device: string;
  readonly vmUuid: string | null;
  readonly index: number | null;
  readonly port: OwnedPort | null;
  readonly tap: TapState | null;
}

/** Joins vifd-owned ports and TAPs by device name; TAPs without vifd's alias are not ours. */
export function observeVifs(ports: readonly OwnedPort[], taps: readonly TapState[]): ObservedVif[] {
  const byDevice = new Map<string, { port: OwnedPort | null; tap: TapState | null }>();
  for (const port of ports) byDevice.set(port.name, { port, tap: null });
  for (const tap of taps) {
    if (parseTapAlias(tap.alias) === null) continue;
    byDevice.set(tap.name, { port: byDevice.get(tap.name)?.port ?? null, tap });
  }
  return [...byDevice].map(([device, { port, tap }]) => {
    const fromTap = parseTapAlias(tap?.alias ?? null);
    const portIndex = port?.externalIds[EXTERNAL_ID.vifIndex];
    return {
      device, port, tap,
      vmUuid: port?.externalIds[EXTERNAL_ID.vmUuid] ?? fromTap?.vmUuid ?? null,
      index: portIndex !== undefined && /^\d{1,3}$/.test(portIndex) ? Number(portIndex) : fromTap?.index ?? null,
    };
  }).sort((a, b) => a.device.localeCompare(b.device));
}

function portVlan(vlan: VlanSettings): { tag: number | null; trunks: readonly number[]; mode: string | null } {
  switch (vlan.mode) {
    case 'none': return { tag: null, trunks: [], mode: null };
    case 'access': return { tag: vlan.tag, trunks: [], mode: 'access' };
    case 'trunk': return { tag: null, trunks: vlan.trunks, mode: 'trunk' };
    default: return { tag: vlan.tag, trunks: vlan.trunks ?? [], mode: vlan.mode };
  }
}

/** What differs between a desired VIF and what the host has; [] when it matches. */
export function vifProblems(desired: DesiredVif, observed: ObservedVif | undefined): string[] {
  const problems: string[] = [];
  const tap = observed?.tap ?? null;
  const port = observed?.port ?? null;
  if (tap === null) problems.push('TAP missing');
  else {
    if (tap.mac !== hostSideMac(desired.mac)) problems.push(`TAP MAC ${tap.mac}, want ${hostSideMac(desired.mac)}`);
    if (desired.mtu !== undefined && tap.mtu !== desired.mtu) problems.push(`TAP MTU ${tap.mtu}, want ${desired.mtu}`);
    if (!tap.up) problems.push('TAP down');
  }
  if (port === null) return [...problems, 'port missing'];
  if (port.bridge !== desired.bridge) problems.push(`on bridge ${port.bridge ?? 'none'}, want ${desired.bridge}`);
  const want = portVlan(desired.vlan);
  if (port.tag !== want.tag) problems.push(`VLAN tag ${port.tag ?? 'none'}, want ${want.tag ?? 'none'}`);
  if (port.trunks.join(',') !== want.trunks.join(',')) problems.push(`trunks [${port.trunks.join(',')}], want [${want.trunks.join(',')}]`);
  if (port.vlanMode !== want.mode) problems.push(`vlan_mode ${port.vlanMode ?? 'none'}, want ${want.mode ?? 'none'}`);
  if (port.externalIds[EXTERNAL_ID.attachedMac] !== desired.mac) problems.push('attached-mac differs');
  if (port.error !== null) problems.push(`ovs-vswitchd: ${port.error}`);
  return problems;
}

export type Step =
  | { readonly kind: 'ensure-tap'; readonly vif: DesiredVif }
  /** `reopen`: the port exists but its TAP is being recreated; ovs-vswitchd must open the new device. */
  | { readonly kind: 'ensure-port'; readonly vif: DesiredVif; readonly reopen: boolean }
  | { readonly kind: 'remove-port'; readonly device: string; readonly vmUuid: string | null }
  | { readonly kind: 'delete-tap'; readonly device: string; readonly vmUuid: string | null };

export interface VifReport {
  readonly device: string;
  readonly vmUuid: string | null;
  readonly index: number | null;
  /**
   * ok: as desired; drift: present but wrong or partly missing; orphan: owned,
   * not desired; detaching: kept while the guest may still use it.
   */
  readonly state: 'ok' | 'drift' | 'missing' | 'orphan' | 'detaching';
  readonly problems: readonly string[];
  readonly desired: DesiredVif | null;
  readonly observed: ObservedVif | null;
}

export interface Reconciliation {
  readonly reports: readonly VifReport[];
  /** Creation steps first (TAP before its port), then removals (port before its TAP). */
  readonly steps: readonly Step[];
}

/**
 * Compares desired VIFs with what vifd owns. `inScope` limits what counts as
 * an orphan (one domain's VIFs during a per-domain reconcile; all for GC).
 * A device vifd wants but which is observed as another VM's is left to the
 * planner's collision checks: here it is simply repaired to the desired state.
 */
export function reconcile(desired: readonly DesiredVif[], observed: readonly ObservedVif[], inScope: (vif: ObservedVif) => boolean): Reconciliation {
  const observedByDevice = new Map(observed.map((vif) => [vif.device, vif]));
  const wanted = new Set(desired.map((vif) => vif.device));
  const reports: VifReport[] = [];
  const creates: Step[] = [];
  const removes: Step[] = [];
  for (const vif of desired) {
    const seen = observedByDevice.get(vif.device);
    const problems = vifProblems(vif, seen);
    const missing = seen === undefined || (seen.tap === null && seen.port === null);
    reports.push({ device: vif.device, vmUuid: vif.vmUuid, index: vif.index, state: problems.length === 0 ? 'ok' : missing ? 'missing' : 'drift',
      problems, desired: vif, observed: seen ?? null });
    if (problems.length === 0) continue;
    const tapWrong = problems.some((problem) => problem.startsWith('TAP'));
    if (tapWrong) creates.push({ kind: 'ensure-tap', vif });
    const reopen = seen?.port != null && seen.tap === null;
    if (tapWrong || problems.some((problem) => !problem.startsWith('TAP'))) creates.push({ kind: 'ensure-port', vif, reopen });
  }
  for (const vif of observed) {
    if (wanted.has(vif.device) || !inScope(vif)) continue;
    reports.push({ device: vif.device, vmUuid: vif.vmUuid, index: vif.index, state: 'orphan', problems: ['not wanted by any running VM'], desired: null, observed: vif });
    if (vif.port !== null) removes.push({ kind: 'remove-port', device: vif.device, vmUuid: vif.vmUuid });
    if (vif.tap !== null) removes.push({ kind: 'delete-tap', device: vif.device, vmUuid: vif.vmUuid });
  }
  return { reports, steps: [...creates, ...removes] };
}
