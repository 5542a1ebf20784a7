// What a running VM wants, from its live definition (pure). Three kinds of
// vifd interface are told apart:
// - an intent entry with its interface rendered: plugged, as it should be;
// - an intent entry whose interface is not there yet: plugged ahead, so that
//   an attach by any tool (`virsh attach-device` of the rendered interface)
//   finds its TAP, which libvirt requires for managed='no';
// - a rendered interface without an intent entry (vifctl detach removes the
//   entry first): held as it is until the guest lets go of it.
// An entry whose interface was rendered at the last look and is gone now was
// detached by someone else: it is dropped, and the caller drops it from the
// VM's metadata too.
// A Xen domain (libvirt's libxl driver) wants nothing of this source: netback
// creates its devices and libxl runs vifd's hotplug script for each, so the
// Xen hotplug source owns its ports; planning its intent here would make TAPs
// and ports nobody's guest uses.
import type { DomainDefinition, VifdIntent } from './domain-xml.js';
import { deviceNamePrefix } from '../../model/names.js';
import { deviceName, vifIndexOfDevice } from '../../model/names.js';
import { isXenDomain } from './xen-interfaces.js';

export interface RunningView {
  /** The intent to plan from: the live one without entries detached elsewhere. */
  readonly intent: VifdIntent;
  /** Indexes whose interface disappeared since the last look (detached by another tool). */
  readonly detachedElsewhere: readonly number[];
  /** vifd interfaces of this VM rendered now (kept plugged whatever the intent says). */
  readonly rendered: ReadonlySet<string>;
  /** The same as VIF indexes. */
  readonly renderedIndexes: ReadonlySet<number>;
}

export function runningView(domain: DomainDefinition, renderedBefore: ReadonlySet<string>): RunningView {
  if (isXenDomain(domain)) return { intent: { ...(domain.intent ?? {}), vifs: [] }, detachedElsewhere: [], rendered: new Set(), renderedIndexes: new Set() };
  const prefix = deviceNamePrefix(domain.uuid);
  const rendered = new Set(domain.interfaces.flatMap((definition) =>
    (definition.targetDev?.startsWith(prefix) === true ? [definition.targetDev] : [])));
  const intent = domain.intent ?? { vifs: [] };
  const detachedElsewhere = intent.vifs
    .filter((vif) => { const device = deviceName(domain.uuid, vif.index); return renderedBefore.has(device) && !rendered.has(device); })
    .map((vif) => vif.index);
  return {
    intent: { ...intent, vifs: intent.vifs.filter((vif) => !detachedElsewhere.includes(vif.index)) },
    detachedElsewhere,
    rendered,
    renderedIndexes: new Set([...rendered].flatMap((device) => vifIndexOfDevice(domain.uuid, device) ?? [])),
  };
}
