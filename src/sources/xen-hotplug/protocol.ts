// The one request the Xen hook sends the daemon (control-socket method
// `xen-hotplug`) and the result it expects. The hook has read and validated
// every xenstore value before sending; the daemon validates again with
// parseXenHotplugRequest, since anything on the socket is input.
// A refusal (the VIF limit, a bridge that does not exist or is not allowed)
// is a JSON-RPC error carrying a VifdError: its message becomes the one-line
// `hotplug-error` the toolstack shows.
import { parseAllowedList } from '../../model/allowed-addresses.js';
import { InvalidInputError, describeValue } from '../../model/errors.js';
import { parseVmUuid } from '../../model/ids.js';
import { parseMac } from '../../model/mac.js';
import { parseBridgeName } from './bridge.js';
import type { XenBridgeSpec } from './bridge.js';
import { parseNetbackName } from './invocation.js';
import type { XenDeviceType } from './invocation.js';

export const XEN_HOTPLUG_METHOD = 'xen-hotplug';
export const XEN_HOTPLUG_PROTOCOL_VERSION = 1;

export type XenToolstack = 'libxl' | 'xenopsd';
export type XenLockingMode = 'locked' | 'unlocked' | 'disabled';

/** What xenopsd put in /xapi/<vm-uuid>/private/vif/<devid> besides the bridge and MTU. */
export interface XapiVifKeys {
  readonly vifUuid: string;
  readonly networkUuid: string;
  readonly lockingMode?: XenLockingMode;
  readonly ipv4Allowed?: readonly string[];
  readonly ipv6Allowed?: readonly string[];
}

export interface XenHotplugDevice {
  /** vif7.0 (netback), tap7.0 (xenopsd's emulated NIC), vif7.0-emu (libxl's), or an xl vifname. */
  readonly name: string;
  readonly type: XenDeviceType;
  readonly domid: number;
  readonly devid: number;
}

export interface XenHotplugVm {
  /** The domain's uuid as xenstore has it (/vm/<uuid>); during an XAPI migration a temporary one. */
  readonly uuid: string;
  /** XAPI's final-uuid during an incoming migration: the uuid the port's `xs-vm-uuid` must carry. */
  readonly finalUuid?: string;
  /** The domain's name (xen-vm-name); untrusted text, never used as a name on the host. */
  readonly name?: string;
}

interface RequestBase {
  readonly version: typeof XEN_HOTPLUG_PROTOCOL_VERSION;
  readonly toolstack: XenToolstack;
  /** The command the toolstack gave (online, add, ...), for logs. */
  readonly command: string;
  readonly device: XenHotplugDevice;
}

/** Attach the device to the bridge (plug), or to a new one (move, xenopsd's VIF.move). */
export interface XenPlugRequest extends RequestBase {
  readonly action: 'plug' | 'move';
  readonly vm: XenHotplugVm;
  /** The guest's MAC (attached-mac); the host side is set to fe:ff:ff:ff:ff:ff as Xen does. */
  readonly mac: string;
  readonly bridge: XenBridgeSpec;
  readonly mtu?: number;
  /** Only from xenopsd. */
  readonly xapi?: XapiVifKeys;
}

/** Remove the port; the VM may be half gone, so what xenstore no longer holds is absent. */
export interface XenUnplugRequest extends RequestBase {
  readonly action: 'unplug';
  readonly vm?: XenHotplugVm;
}

export type XenHotplugRequest = XenPlugRequest | XenUnplugRequest;

export interface XenHotplugResult {
  /**
   * plugged / unplugged: the daemon changed the switch; unchanged: it already
   * was as asked; disabled: XAPI's locking_mode=disabled, so the device has no
   * port at all (as XAPI's own scripts leave it) and the plug still succeeds.
   */
  readonly outcome: 'plugged' | 'unplugged' | 'unchanged' | 'disabled';
  /** The OVS port's bridge after a plug (the parent bridge when the toolstack named a fake bridge). */
  readonly bridge?: string;
  readonly vlan?: number;
}

export const MIN_MTU = 68;
export const MAX_MTU = 65535;

export function parseMtu(text: string, field: string): number {
  const mtu = /^[1-9]\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isInteger(mtu) && mtu >= MIN_MTU && mtu <= MAX_MTU) return mtu;
  throw new InvalidInputError(`${describeValue(text)} is not an MTU (${MIN_MTU}-${MAX_MTU})`, { field, value: text });
}

// ---- validation of a request arriving at the daemon -------------------------------------------

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function field<T>(record: Record<string, unknown>, key: string, check: (value: unknown) => value is T, what: string, at: string): T {
  const value = record[key];
  if (check(value)) return value;
  throw new InvalidInputError(`expected ${what}, got ${describeValue(value)}`, { field: `${at}${key}`, value });
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;
const isType = (value: unknown): value is XenDeviceType => value === 'vif' || value === 'tap';
const isToolstack = (value: unknown): value is XenToolstack => value === 'libxl' || value === 'xenopsd';
const isAction = (value: unknown): value is XenHotplugRequest['action'] => value === 'plug' || value === 'move' || value === 'unplug';

function parseDevice(input: unknown): XenHotplugDevice {
  if (!isRecord(input)) throw new InvalidInputError('expected an object', { field: 'device', value: input });
  const name = field(input, 'name', isString, 'a device name', 'device.');
  const ids = parseNetbackName(name);
  const device = {
    name, type: field(input, 'type', isType, '"vif" or "tap"', 'device.'),
    domid: field(input, 'domid', isInteger, 'a domid', 'device.'), devid: field(input, 'devid', isInteger, 'a devid', 'device.'),
  };
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name) || (ids !== null && (ids.domid !== device.domid || ids.devid !== device.devid))) {
    throw new InvalidInputError(`${describeValue(name)} is not the device of domain ${device.domid} devid ${device.devid}`, { field: 'device.name', value: name });
  }
  return device;
}

function parseVm(input: unknown): XenHotplugVm {
  if (!isRecord(input)) throw new InvalidInputError('expected an object', { field: 'vm', value: input });
  const uuid = parseVmUuid(input.uuid, 'vm.uuid');
  const finalUuid = input.finalUuid === undefined ? undefined : parseVmUuid(input.finalUuid, 'vm.finalUuid');
  const name = input.name === undefined ? undefined : field(input, 'name', isString, 'a string', 'vm.');
  return { uuid, ...(finalUuid === undefined ? {} : { finalUuid }), ...(name === undefined ? {} : { name }) };
}

function parseBridgeSpec(input: unknown): XenBridgeSpec {
  if (!isRecord(input)) throw new InvalidInputError('expected an object', { field: 'bridge', value: input });
  const bridge = parseBridgeName(field(input, 'bridge', isString, 'a bridge name', 'bridge.'), 'bridge.bridge');
  const vlan = input.vlan === undefined ? undefined : field(input, 'vlan', (v): v is number => isInteger(v) && v >= 1 && v <= 4094, 'a VLAN id 1-4094', 'bridge.');
  const trunks = input.trunks === undefined ? undefined
    : field(input, 'trunks', (v): v is number[] => Array.isArray(v) && v.length > 0 && v.every((id) => isInteger(id) && id >= 1 && id <= 4094), 'a list of VLAN ids 1-4094', 'bridge.');
  return { bridge, ...(vlan === undefined ? {} : { vlan }), ...(trunks === undefined ? {} : { trunks: [...new Set(trunks)].sort((a, b) => a - b) }) };
}

/** A request as the daemon receives it: every field checked, or an InvalidInputError naming the field. */
export function parseXenHotplugRequest(input: unknown): XenHotplugRequest {
  if (!isRecord(input)) throw new InvalidInputError('expected an object', { field: 'params', value: input });
  if (input.version !== XEN_HOTPLUG_PROTOCOL_VERSION) {
    throw new InvalidInputError(`protocol version ${describeValue(input.version)}; this vifd speaks ${XEN_HOTPLUG_PROTOCOL_VERSION}`, { field: 'version', value: input.version });
  }
  const base = {
    version: XEN_HOTPLUG_PROTOCOL_VERSION, toolstack: field(input, 'toolstack', isToolstack, '"libxl" or "xenopsd"', ''),
    command: field(input, 'command', isString, 'a command', ''), device: parseDevice(input.device),
  } as const;
  const action = field(input, 'action', isAction, '"plug", "move" or "unplug"', '');
  if (action === 'unplug') return { ...base, action, ...(input.vm === undefined ? {} : { vm: parseVm(input.vm) }) };
  const mtu = input.mtu === undefined ? undefined : field(input, 'mtu', (v): v is number => isInteger(v) && v >= MIN_MTU && v <= MAX_MTU, `an MTU ${MIN_MTU}-${MAX_MTU}`, '');
  const xapi = input.xapi === undefined ? undefined : parseXapiKeys(input.xapi);
  return {
    ...base, action, vm: parseVm(input.vm), mac: parseMac(input.mac, 'mac'), bridge: parseBridgeSpec(input.bridge),
    ...(mtu === undefined ? {} : { mtu }), ...(xapi === undefined ? {} : { xapi }),
  };
}

function parseXapiKeys(input: unknown): XapiVifKeys {
  if (!isRecord(input)) throw new InvalidInputError('expected an object', { field: 'xapi', value: input });
  const lockingMode = input.lockingMode;
  if (lockingMode !== undefined && lockingMode !== 'locked' && lockingMode !== 'unlocked' && lockingMode !== 'disabled') {
    throw new InvalidInputError(`${describeValue(lockingMode)} is not a locking mode`, { field: 'xapi.lockingMode', value: lockingMode });
  }
  const addresses = (key: 'ipv4Allowed' | 'ipv6Allowed', family: 4 | 6): readonly string[] | undefined => input[key] === undefined ? undefined
    : parseAllowedList(field(input, key, (v): v is unknown[] => Array.isArray(v), 'a list of addresses', 'xapi.'), family, `xapi.${key}`);
  const ipv4Allowed = addresses('ipv4Allowed', 4);
  const ipv6Allowed = addresses('ipv6Allowed', 6);
  return {
    vifUuid: parseVmUuid(input.vifUuid, 'xapi.vifUuid'), networkUuid: parseVmUuid(input.networkUuid, 'xapi.networkUuid'),
    ...(lockingMode === undefined ? {} : { lockingMode }),
    ...(ipv4Allowed === undefined ? {} : { ipv4Allowed }), ...(ipv6Allowed === undefined ? {} : { ipv6Allowed }),
  };
}

/** The daemon's answer as the hook reads it; anything else is a protocol error. */
export function parseXenHotplugResult(input: unknown): XenHotplugResult {
  if (!isRecord(input) || (input.outcome !== 'plugged' && input.outcome !== 'unplugged' && input.outcome !== 'unchanged' && input.outcome !== 'disabled')) {
    throw new InvalidInputError(`vifd answered ${describeValue(input)}, not a xen-hotplug result`, { field: 'result', value: input });
  }
  return {
    outcome: input.outcome,
    ...(typeof input.bridge === 'string' ? { bridge: input.bridge } : {}),
    ...(typeof input.vlan === 'number' ? { vlan: input.vlan } : {}),
  };
}
