// From an invocation and xenstore to the one request the daemon gets. Every
// value read is validated here, in the hook, so a hostile value is refused
// with the xenstore path it came from before the daemon is asked anything.
// Paths (research notes xen-xapi.md §3, §4):
//   both:    /local/domain/<domid>/vm -> /vm/<uuid>; <vm>/uuid; /local/domain/<domid>/name
//   libxl:   backend/vif/<domid>/<devid>/{bridge,mac}
//   xenopsd: /xapi/<uuid>/private/vif/<devid>/{bridge,mac,MTU,trunks,locking-mode,
//            vif-uuid,network-uuid,ipv4-allowed,ipv6-allowed}; <vm>/final-uuid when migrating
import { parseAllowedText } from '../../model/allowed-addresses.js';
import { InvalidInputError, describeValue, withErrorContext } from '../../model/errors.js';
import { parseVmUuid } from '../../model/ids.js';
import { parseMac } from '../../model/mac.js';
import { parseTrunks } from '../../model/vlan.js';
import { parseXenBridge } from './bridge.js';
import type { XenBridgeSpec } from './bridge.js';
import type { HotplugInvocation } from './invocation.js';
import { XEN_HOTPLUG_PROTOCOL_VERSION, parseMtu } from './protocol.js';
import type { XapiVifKeys, XenHotplugVm, XenLockingMode, XenPlugRequest, XenToolstack, XenUnplugRequest } from './protocol.js';
import { assertXenstorePath } from './xenstore.js';
import type { XenStore } from './xenstore.js';

/** Where this device's keys live, once the domain's uuid is known. */
export interface HotplugContext {
  readonly toolstack: XenToolstack;
  readonly vm?: XenHotplugVm;
  /** xenopsd's /xapi/<uuid>/private/vif/<devid>. */
  readonly privatePath?: string;
  /** xenopsd's /xapi/<uuid>/hotplug/<domid>/<vif|tap>/<devid>, where the script reports. */
  readonly hotplugPath?: string;
}

const MAX_NAME_BYTES = 1024;
// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

async function required(store: XenStore, path: string): Promise<string> {
  const value = await store.read(path);
  if (value === null) throw new InvalidInputError('is missing from xenstore', { field: path });
  return value;
}

function parseName(value: string, field: string): string {
  // Shown in logs and stored in OVSDB: control characters would forge log lines.
  if (CONTROL_CHARACTER.test(value) || Buffer.byteLength(value, 'utf8') > MAX_NAME_BYTES) {
    throw new InvalidInputError(`${describeValue(value)} is not a domain name (control characters, or over ${MAX_NAME_BYTES} bytes)`, { field, value });
  }
  return value;
}

/**
 * The domain's identity and which toolstack runs it: xenopsd writes the
 * private node before running the script (and the hotplug node while the
 * device is up); libxl writes neither. For an unplug whatever is gone stays
 * absent; a plug needs the uuid.
 */
export async function readHotplugContext(store: XenStore, invocation: HotplugInvocation): Promise<HotplugContext> {
  const domainPath = `/local/domain/${invocation.domid}`;
  const vmPath = await store.read(`${domainPath}/vm`);
  if (vmPath === null) {
    if (invocation.action !== 'unplug') throw new InvalidInputError('is missing from xenstore', { field: `${domainPath}/vm` });
    return { toolstack: 'libxl' };
  }
  withErrorContext({ field: `${domainPath}/vm` }, () => assertXenstorePath(vmPath));
  const [uuidText, nameText] = await store.readMany([`${vmPath}/uuid`, `${domainPath}/name`]);
  if (uuidText === null || uuidText === undefined) {
    if (invocation.action !== 'unplug') throw new InvalidInputError('is missing from xenstore', { field: `${vmPath}/uuid` });
    return { toolstack: 'libxl' };
  }
  const uuid = parseVmUuid(uuidText, `${vmPath}/uuid`);
  const name = nameText === null || nameText === undefined ? undefined : parseName(nameText, `${domainPath}/name`);
  const privatePath = `/xapi/${uuid}/private/vif/${invocation.devid}`;
  // xenopsd's hotplug node is per backend kind (vif or tap); it waits on the vif's only.
  const hotplugPath = `/xapi/${uuid}/hotplug/${invocation.domid}/${invocation.type}/${invocation.devid}`;
  // xenopsd removes the private node only after the remove; the hotplug node tells an unplug too.
  const xenopsd = await store.exists(privatePath) || (invocation.action === 'unplug' && await store.exists(hotplugPath));
  let finalUuid: string | undefined;
  if (xenopsd && invocation.action !== 'unplug') {
    const finalText = await store.read(`${vmPath}/final-uuid`);
    finalUuid = finalText === null ? undefined : parseVmUuid(finalText, `${vmPath}/final-uuid`);
  }
  const vm: XenHotplugVm = { uuid, ...(finalUuid === undefined ? {} : { finalUuid }), ...(name === undefined ? {} : { name }) };
  return xenopsd ? { toolstack: 'xenopsd', vm, privatePath, hotplugPath } : { toolstack: 'libxl', vm };
}

export function buildUnplugRequest(invocation: HotplugInvocation, context: HotplugContext): XenUnplugRequest {
  return {
    version: XEN_HOTPLUG_PROTOCOL_VERSION, toolstack: context.toolstack, command: invocation.command, action: 'unplug',
    device: { name: invocation.device, type: invocation.type, domid: invocation.domid, devid: invocation.devid },
    ...(context.vm === undefined ? {} : { vm: context.vm }),
  };
}

export async function buildPlugRequest(store: XenStore, invocation: HotplugInvocation, context: HotplugContext): Promise<XenPlugRequest> {
  const { vm } = context;
  if (vm === undefined || invocation.action === 'unplug' || invocation.action === 'ignore') {
    throw new InvalidInputError(`${invocation.command} is not a plug`, { field: 'argv' });
  }
  // The PV device's backend node holds the NIC's keys; libxl's tap call points there too.
  const backend = `backend/vif/${invocation.domid}/${invocation.devid}`;
  const base = {
    version: XEN_HOTPLUG_PROTOCOL_VERSION, toolstack: context.toolstack, command: invocation.command, action: invocation.action,
    device: { name: invocation.device, type: invocation.type, domid: invocation.domid, devid: invocation.devid }, vm,
  } as const;
  if (context.privatePath === undefined) {
    const [bridgeText, macText] = await store.readMany([`${backend}/bridge`, `${backend}/mac`]);
    const bridge = parseXenBridge(orMissing(bridgeText, `${backend}/bridge`), `${backend}/bridge`);
    return { ...base, mac: parseMac(orMissing(macText, `${backend}/mac`), `${backend}/mac`), bridge };
  }
  return { ...base, ...await readPrivateKeys(store, context.privatePath, backend) };
}

async function readPrivateKeys(store: XenStore, at: string, backend: string): Promise<Pick<XenPlugRequest, 'mac' | 'bridge' | 'mtu' | 'xapi'>> {
  const [bridgeText, macText, mtuText, trunksText, lockingText, vifUuid, networkUuid, ipv4, ipv6] = await store.readMany(
    ['bridge', 'mac', 'MTU', 'trunks', 'locking-mode', 'vif-uuid', 'network-uuid', 'ipv4-allowed', 'ipv6-allowed'].map((key) => `${at}/${key}`),
  );
  if (bridgeText === null || bridgeText === undefined) throw new InvalidInputError('is missing from xenstore', { field: `${at}/bridge` });
  let bridge: XenBridgeSpec = parseXenBridge(bridgeText, `${at}/bridge`);
  if (trunksText !== null && trunksText !== undefined && trunksText !== '') bridge = { ...bridge, trunks: parseTrunks(trunksText, `${at}/trunks`) };
  const mac = parseMac(macText ?? await required(store, `${backend}/mac`), macText === null ? `${backend}/mac` : `${at}/mac`);
  const xapi: XapiVifKeys = {
    vifUuid: parseVmUuid(orMissing(vifUuid, `${at}/vif-uuid`), `${at}/vif-uuid`),
    networkUuid: parseVmUuid(orMissing(networkUuid, `${at}/network-uuid`), `${at}/network-uuid`),
    ...(lockingText === null || lockingText === undefined ? {} : { lockingMode: parseLockingMode(lockingText, `${at}/locking-mode`) }),
    ...addressList(ipv4, 4, `${at}/ipv4-allowed`, 'ipv4Allowed'),
    ...addressList(ipv6, 6, `${at}/ipv6-allowed`, 'ipv6Allowed'),
  };
  return { mac, bridge, xapi, ...(mtuText === null || mtuText === undefined ? {} : { mtu: parseMtu(mtuText, `${at}/MTU`) }) };
}

function orMissing(value: string | null | undefined, field: string): string {
  if (value === null || value === undefined) throw new InvalidInputError('is missing from xenstore', { field });
  return value;
}

function parseLockingMode(text: string, field: string): XenLockingMode {
  if (text === 'locked' || text === 'unlocked' || text === 'disabled') return text;
  throw new InvalidInputError(`${describeValue(text)} is not a locking mode (locked, unlocked, disabled)`, { field, value: text });
}

/** xenopsd writes the allowed addresses comma-separated; each must be an address of that family, nothing else. */
function addressList(text: string | null | undefined, family: 4 | 6, field: string, key: 'ipv4Allowed' | 'ipv6Allowed'): Partial<XapiVifKeys> {
  if (text === null || text === undefined || text === '') return {};
  return { [key]: parseAllowedText(text, family, field) };
}
