// What one run of the vif hotplug script was asked to do, from its argv and
// environment alone (no xenstore yet). Two callers, one script:
// - libxl (xl, libvirt's libxl driver): `online|offline type_if=vif` for the
//   PV device, `add|remove type_if=tap` for an HVM guest's emulated NIC; env
//   XENBUS_PATH=backend/vif/D/N, XENBUS_TYPE=vif, vif=vifD.N, netdev, and
//   INTERFACE=vifD.N-emu for the emulated NIC.
// - xenopsd (XenServer/XCP-ng): `add|online|remove|move`, with `type_if` from
//   its udev rules or without it from its direct call; the type then comes from
//   XENBUS_TYPE or the INTERFACE name (vifD.N or tapD.N).
import { InvalidInputError, describeValue } from '../../model/errors.js';
import { MAX_XEN_DOMID, isValidInterfaceName } from '../../model/names.js';

export type HotplugCommand = 'online' | 'offline' | 'add' | 'remove' | 'move';
export type XenDeviceType = 'vif' | 'tap';
/** What vifd does for the command: attach the port, remove it, move it, or nothing. */
export type HotplugAction = 'plug' | 'unplug' | 'move' | 'ignore';

export interface HotplugInvocation {
  readonly command: HotplugCommand;
  readonly action: HotplugAction;
  readonly type: XenDeviceType;
  /** The backend device as netback or QEMU/xenopsd named it: vif7.0, tap7.0, vif7.0-emu (or an xl `vifname`). */
  readonly device: string;
  readonly domid: number;
  readonly devid: number;
  /**
   * The backend node relative to dom0's home, where results go: XENBUS_PATH
   * (`backend/vif/D/N`; xenopsd's tap call gives `backend/tap/D/N`), else
   * `backend/<type>/D/N`.
   */
  readonly backendPath: string;
  /** libxl's `netdev` (the gateway device of vif-route/vif-nat; unused by switch scripts). */
  readonly netdev?: string;
}

export type HotplugEnv = Readonly<Record<string, string | undefined>>;

const COMMANDS: readonly HotplugCommand[] = ['online', 'offline', 'add', 'remove', 'move'];
const MAX_DEVID = 9999;
/** Device names go to OVS and logs: a valid interface name, and no shell or quoting characters. */
const DEVICE_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * What each command means per device type. vif: netback's device is ready at
 * `online` (libxl and xenopsd alike); `add` comes first from xenopsd and has
 * nothing to attach yet. tap: the emulated NIC exists at `add`; xenopsd's
 * direct call then sends `online` too, which plugs again and changes nothing.
 */
const ACTIONS: Readonly<Record<XenDeviceType, Readonly<Record<HotplugCommand, HotplugAction>>>> = {
  vif: { online: 'plug', add: 'ignore', offline: 'unplug', remove: 'unplug', move: 'move' },
  tap: { add: 'plug', online: 'plug', remove: 'unplug', offline: 'unplug', move: 'move' },
};

const invalid = (detail: string, field: string, value?: unknown): InvalidInputError =>
  new InvalidInputError(detail, { field, value });

export function parseHotplugInvocation(argv: readonly string[], env: HotplugEnv): HotplugInvocation {
  const { command, options } = parseArguments(argv);
  const type = deviceType(options.get('type_if'), env);
  const device = deviceName(type, env);
  const fromPath = env.XENBUS_PATH === undefined ? undefined : parseBackendPath(env.XENBUS_PATH);
  const fromName = parseNetbackName(device);
  const ids = fromPath ?? fromName;
  if (ids === null) {
    throw invalid(`cannot tell the domain and device of ${describeValue(device)}: no XENBUS_PATH and not a vifD.N, tapD.N or vifD.N-emu name`, 'XENBUS_PATH');
  }
  if (fromPath !== undefined && fromName !== null && (fromName.domid !== fromPath.domid || fromName.devid !== fromPath.devid)) {
    throw invalid(`${describeValue(device)} is not the device of ${describeValue(env.XENBUS_PATH)}`, type === 'tap' ? 'INTERFACE' : 'vif', device);
  }
  const netdev = env.netdev;
  return {
    command, action: ACTIONS[type][command], type, device, domid: ids.domid, devid: ids.devid,
    backendPath: `backend/${fromPath?.kind ?? type}/${ids.domid}/${ids.devid}`,
    ...(netdev === undefined || netdev === '' ? {} : { netdev }),
  };
}

/** The first bare word is the command; `key=value` words are options (as Xen's scripts read them). */
function parseArguments(argv: readonly string[]): { command: HotplugCommand; options: Map<string, string> } {
  const options = new Map<string, string>();
  let command: string | undefined;
  for (const word of argv) {
    const equals = word.indexOf('=');
    if (equals > 0) options.set(word.slice(0, equals), word.slice(equals + 1));
    else if (command === undefined) command = word;
    else throw invalid(`unexpected argument ${describeValue(word)} after the command`, 'argv', word);
  }
  if (command === undefined) throw invalid(`no command; expected one of ${COMMANDS.join(', ')}`, 'argv');
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw invalid(`${describeValue(command)} is not a hotplug command (${COMMANDS.join(', ')})`, 'argv', command);
  }
  return { command: command as HotplugCommand, options };
}

function asType(value: string, field: string): XenDeviceType {
  if (value === 'vif' || value === 'tap') return value;
  throw invalid(`${describeValue(value)} is not a device type (vif or tap)`, field, value);
}

/** type_if when given, else XENBUS_TYPE, else the INTERFACE name's shape (xenopsd's direct call). */
function deviceType(typeIf: string | undefined, env: HotplugEnv): XenDeviceType {
  if (typeIf !== undefined) return asType(typeIf, 'type_if');
  if (env.XENBUS_TYPE !== undefined && env.XENBUS_TYPE !== '') return asType(env.XENBUS_TYPE, 'XENBUS_TYPE');
  const name = env.INTERFACE ?? env.vif;
  if (name !== undefined && /^tap\d/.test(name)) return 'tap';
  if (name !== undefined && name.endsWith('-emu')) return 'tap';
  if (name !== undefined && name !== '') return 'vif';
  throw invalid('no type_if argument, XENBUS_TYPE or INTERFACE to tell a vif from a tap', 'type_if');
}

/** vif: `vif` (libxl, udev), else INTERFACE (xenopsd); tap: INTERFACE. */
function deviceName(type: XenDeviceType, env: HotplugEnv): string {
  const [field, value] = type === 'tap' ? ['INTERFACE', env.INTERFACE] : env.vif !== undefined ? ['vif', env.vif] : ['INTERFACE', env.INTERFACE];
  if (value === undefined || value === '') throw invalid(`no ${field} in the environment to name the ${type} device`, field);
  if (!DEVICE_NAME.test(value) || !isValidInterfaceName(value)) {
    throw invalid(`${describeValue(value)} is not a device name (1-15 letters, digits, ".", "-", "_")`, field, value);
  }
  return value;
}

function parseIds(domidText: string, devidText: string): { domid: number; devid: number } | null {
  const domid = Number(domidText);
  const devid = Number(devidText);
  return domid <= MAX_XEN_DOMID && devid <= MAX_DEVID ? { domid, devid } : null;
}

/** `backend/vif/D/N` or xenopsd's `backend/tap/D/N`, also under the absolute `/local/domain/0/`. */
export function parseBackendPath(path: string): { kind: XenDeviceType; domid: number; devid: number } {
  const match = /^(?:\/local\/domain\/0\/)?backend\/(vif|tap)\/(0|[1-9]\d{0,4})\/(0|[1-9]\d{0,3})$/.exec(path);
  const ids = match?.[2] === undefined || match[3] === undefined ? null : parseIds(match[2], match[3]);
  if (ids === null) throw invalid(`${describeValue(path)} is not a vif backend path (backend/vif/<domid>/<devid>)`, 'XENBUS_PATH', path);
  return { kind: match?.[1] === 'tap' ? 'tap' : 'vif', ...ids };
}

/** vifD.N, tapD.N, vifD.N-emu: the names netback, xenopsd and libxl give; null for any other (an xl vifname). */
export function parseNetbackName(name: string): { domid: number; devid: number } | null {
  const match = /^(?:vif|tap)(0|[1-9]\d{0,4})\.(0|[1-9]\d{0,3})(?:-emu)?$/.exec(name);
  if (match?.[1] === undefined || match[2] === undefined) return null;
  if (name.startsWith('tap') && name.endsWith('-emu')) return null;
  return parseIds(match[1], match[2]);
}
