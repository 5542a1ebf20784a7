// The daemon's side of the `xen-hotplug` method: a validated request from the
// Xen hook becomes a change to one VM's intent, planned as a whole (the VIF
// limit counts the VM's other Xen VIFs) and applied in the VM's queue like any
// other change to it. A plug attaches one device, an unplug detaches one;
// called twice for one event, the second finds the switch as asked and
// changes nothing ("unchanged"). XAPI's locking_mode=disabled means no port at
// all: the device is left off the switch (its old port removed) and the plug
// succeeds as "disabled"; `locked` plugs with the allowed addresses (the netback kind installs its flows).
import { InvalidInputError, PlugError, VifdError } from '../../model/errors.js';
import type { ErrorContext } from '../../model/errors.js';
import type { VifControl } from '../../model/contracts.js';
import { desiredVifs } from '../../model/plan.js';
import type { VlanSettings } from '../../model/vlan.js';
import type { NetbackVifIntent, VmIntent } from '../../model/vm-intent.js';
import { formatXenBridge } from './bridge.js';
import type { XenBridgeSpec } from './bridge.js';
import type { XenHotplugRequest, XenHotplugResult, XenPlugRequest, XenUnplugRequest } from './protocol.js';
import type { XenVms } from './vms.js';

/** An OVS fake bridge's parent and VLAN (host/ovsdb/fake-bridges.ts answers it); null: not a fake bridge. */
export type FakeBridgeLookup = (name: string) => { readonly parent: string; readonly tag: number | null } | null;

export interface XenHotplugLog {
  info(message: string, fields?: Record<string, unknown>): void;
}

/** BRIDGE.VLAN: access; BRIDGE:T1:T2: trunks; both: the VLAN untagged (native) plus the trunks tagged. */
function vlanOf(spec: XenBridgeSpec): VlanSettings {
  if (spec.vlan !== undefined && spec.trunks !== undefined) return { mode: 'native-untagged', tag: spec.vlan, trunks: spec.trunks };
  if (spec.vlan !== undefined) return { mode: 'access', tag: spec.vlan };
  if (spec.trunks !== undefined) return { mode: 'trunk', trunks: spec.trunks };
  return { mode: 'none' };
}

/** Where the device plugs: a fake bridge is its parent with the fake bridge's VLAN, and takes no VLAN of its own. */
function placement(spec: XenBridgeSpec, fakeBridge: FakeBridgeLookup): { bridge: string; vlan: VlanSettings } {
  const fake = fakeBridge(spec.bridge);
  if (fake === null) return { bridge: spec.bridge, vlan: vlanOf(spec) };
  if (spec.vlan !== undefined || spec.trunks !== undefined) {
    throw new InvalidInputError(`${JSON.stringify(formatXenBridge(spec))}: ${spec.bridge} is a fake bridge (VLAN ${fake.tag ?? 'none'} on ${fake.parent}); it takes no VLAN of its own`,
      { field: 'bridge' });
  }
  return { bridge: fake.parent, vlan: fake.tag === null ? { mode: 'none' } : { mode: 'access', tag: fake.tag } };
}

/**
 * The host config's `xen.allowed_bridges`, when set: the only bridges a
 * toolstack may name (a fake bridge by its own name, as XAPI names it).
 */
function assertAllowedBridge(name: string, allowed: readonly string[] | undefined): void {
  if (allowed === undefined || allowed.includes(name)) return;
  throw new InvalidInputError(`bridge ${JSON.stringify(name)} is not one of xen.allowed_bridges (${allowed.join(', ') || 'none'})`, { field: 'bridge', value: name });
}

export function netbackIntent(request: XenPlugRequest, fakeBridge: FakeBridgeLookup, allowedBridges?: readonly string[]): NetbackVifIntent {
  assertAllowedBridge(request.bridge.bridge, allowedBridges);
  const { bridge, vlan } = placement(request.bridge, fakeBridge);
  const xapi = request.xapi;
  return {
    index: request.device.devid, kind: 'netback', device: request.device.name, network: formatXenBridge(request.bridge), bridge, vlan, mac: request.mac,
    ...(request.mtu === undefined ? {} : { mtu: request.mtu }),
    ...(request.vm.name === undefined ? {} : { vmName: request.vm.name }),
    ...(xapi === undefined ? {} : { xapi: { vmUuid: request.vm.finalUuid ?? request.vm.uuid, vifUuid: xapi.vifUuid, networkUuid: xapi.networkUuid } }),
    ...(xapi?.lockingMode === undefined || xapi.lockingMode === 'disabled' ? {} : { lockingMode: xapi.lockingMode }),
    ...(xapi?.lockingMode === 'locked' ? { ipv4Allowed: xapi.ipv4Allowed ?? [], ipv6Allowed: xapi.ipv6Allowed ?? [] } : {}),
  };
}

/** The refusal names the device the toolstack asked about, on the one line it shows. */
function namingDevice(device: string, context: ErrorContext, error: unknown): unknown {
  if (!(error instanceof VifdError)) return error;
  const Kind = error.constructor as new (detail: string, context: ErrorContext, options: { cause?: unknown }) => VifdError;
  return new Kind(`device ${device}: ${error.detail}`, { ...context, ...error.context }, { cause: error.cause });
}

export class XenHotplug {
  constructor(
    private readonly engine: VifControl,
    private readonly vms: XenVms,
    private readonly fakeBridge: FakeBridgeLookup,
    private readonly log: XenHotplugLog,
    private readonly allowedBridges?: readonly string[],
  ) {}

  handle(request: XenHotplugRequest): Promise<XenHotplugResult> {
    return request.action === 'unplug' ? this.unplug(request) : this.plug(request);
  }

  private async plug(request: XenPlugRequest): Promise<XenHotplugResult> {
    if (request.xapi?.lockingMode === 'disabled') return this.detach(request.device.name, request.vm.uuid, request.vm.name, request.command, 'disabled');
    const device = request.device.name;
    const vm = { uuid: request.vm.uuid, name: request.vm.name ?? request.vm.uuid };
    const context: ErrorContext = { domain: vm.name, vmUuid: vm.uuid, vifIndex: request.device.devid };
    try {
      const vif = netbackIntent(request, this.fakeBridge, this.allowedBridges);
      return await this.engine.inVmQueue(vm.uuid, async () => {
        const intent = this.vms.intentWith(vm.uuid, request.vm.name, { replacing: vif });
        const desired = desiredVifs(this.engine.plan(intent));
        const kept = this.engine.wantedFor(vm.uuid);
        const applied = await this.engine.applyFor({ uuid: vm.uuid, name: intent.name }, desired);
        const failure = applied.failures[0];
        if (failure !== undefined) {
          await this.engine.applyFor({ uuid: vm.uuid, name: intent.name }, kept);
          throw new PlugError(`could not plug: ${failure.error.message}`, {}, { cause: failure.error });
        }
        this.vms.remember(intent);
        if (applied.ran > 0) this.log.info(`plugged ${device} into ${vif.bridge} (${request.command})`, { domain: vm.name, vmUuid: vm.uuid, device });
        const tag = vif.vlan.mode === 'access' ? { vlan: vif.vlan.tag } : {};
        return { outcome: applied.ran > 0 ? 'plugged' : 'unchanged', bridge: vif.bridge, ...tag };
      });
    } catch (error) {
      throw namingDevice(device, context, error);
    }
  }

  private unplug(request: XenUnplugRequest): Promise<XenHotplugResult> {
    return this.detach(request.device.name, request.vm?.uuid, request.vm?.name, request.command, 'unplugged');
  }

  /** Takes the device's port away (an unplug, or a plug with locking_mode=disabled). */
  private async detach(device: string, named: string | undefined, name: string | undefined, command: string, done: 'unplugged' | 'disabled'): Promise<XenHotplugResult> {
    // After an XAPI migration the domain's uuid is not the temporary one its ports were plugged under.
    const uuid = named !== undefined && this.vms.knows(named) ? named : this.vms.ownerOf(device) ?? named;
    if (uuid === undefined) return { outcome: 'unchanged' };
    return this.engine.inVmQueue(uuid, async () => {
      const intent: VmIntent = this.vms.intentWith(uuid, name, { removing: device });
      // Planned from what this source knows (rebuilt from the switch after a restart), not from
      // the engine's last reconcile, which may not have seen this VM yet.
      const desired = desiredVifs(this.engine.plan(intent));
      const applied = await this.engine.applyFor({ uuid, name: intent.name }, desired);
      const failure = applied.failures[0];
      if (failure !== undefined) throw namingDevice(device, { domain: intent.name, vmUuid: uuid }, failure.error);
      this.vms.remember(intent);
      if (done === 'disabled') {
        this.log.info(`left ${device} without a port: locking_mode is disabled (${command})`, { domain: intent.name, vmUuid: uuid, device });
        return { outcome: 'disabled' };
      }
      if (applied.ran > 0) this.log.info(`unplugged ${device} (${command})`, { domain: intent.name, vmUuid: uuid, device });
      return { outcome: applied.ran > 0 ? 'unplugged' : 'unchanged' };
    });
  }
}
