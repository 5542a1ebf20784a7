// systemd's service notification protocol (sd_notify(3)): READY=1 once vifd
// serves its control socket, WATCHDOG=1 pings, RELOADING=1 and STOPPING=1.
// Through libsystemd's own sd_notify (koffi, no native addon) when the host
// has libsystemd.so.0; otherwise vifd sends the datagram itself through libc,
// because Node's dgram module has no AF_UNIX datagram sockets. Without
// NOTIFY_SOCKET (not started by systemd, or Type= other than notify) every
// call is a no-op.
import koffi from 'koffi';
import { VifdError } from '../model/errors.js';

/** A notification could not be delivered; the daemon logs it and runs on. */
export class NotifyError extends VifdError {
  readonly code = 'sd-notify';
}

export interface NotifyTransport {
  /** Which path delivers: libsystemd's sd_notify or vifd's own datagram. */
  readonly kind: 'libsystemd' | 'datagram';
  send(socketName: string, state: string): void;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH_BYTES = 108;

/** A struct sockaddr_un for NOTIFY_SOCKET: a path, or an abstract name written with a leading '@'. */
export function socketAddress(socketName: string): Buffer {
  const abstract = socketName.startsWith('@');
  if (!abstract && !socketName.startsWith('/')) {
    throw new NotifyError(`NOTIFY_SOCKET ${JSON.stringify(socketName)} is neither an absolute path nor an abstract name (@...)`);
  }
  // An abstract name is a NUL followed by the name, its length given by addrlen (no trailing NUL).
  const name = abstract ? Buffer.concat([Buffer.from([0]), Buffer.from(socketName.slice(1))]) : Buffer.from(`${socketName}\0`);
  if (name.length > SUN_PATH_BYTES) throw new NotifyError(`NOTIFY_SOCKET ${JSON.stringify(socketName)} is longer than ${SUN_PATH_BYTES} bytes`);
  const address = Buffer.alloc(2 + name.length);
  address.writeUInt16LE(AF_UNIX, 0);
  name.copy(address, 2);
  return address;
}

function libsystemdTransport(library: string): NotifyTransport {
  const lib = koffi.load(library);
  const sdNotify = lib.func('int sd_notify(int unset_environment, const char *state)') as (unset: number, state: string) => number;
  return {
    kind: 'libsystemd',
    send: (socketName, state) => {
      const result = sdNotify(0, state);
      // 0 means libsystemd saw no NOTIFY_SOCKET: its environment and ours disagree.
      if (result <= 0) throw new NotifyError(`sd_notify(${JSON.stringify(state)}) to ${socketName} failed (${result < 0 ? `errno ${-result}` : 'no NOTIFY_SOCKET in the C environment'})`);
    },
  };
}

function datagramTransport(): NotifyTransport {
  const libc = koffi.load('libc.so.6');
  const socket = libc.func('int socket(int domain, int type, int protocol)') as (domain: number, type: number, protocol: number) => number;
  const close = libc.func('int close(int fd)') as (fd: number) => number;
  const sendto = libc.func('intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)') as
    (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number;
  return {
    kind: 'datagram',
    send: (socketName, state) => {
      const address = socketAddress(socketName);
      const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw new NotifyError(`socket(AF_UNIX, SOCK_DGRAM) failed (errno ${koffi.errno()})`);
      try {
        const payload = Buffer.from(state);
        const sent = sendto(fd, payload, payload.length, MSG_NOSIGNAL, address, address.length);
        if (sent !== payload.length) throw new NotifyError(`sending ${JSON.stringify(state)} to ${socketName} failed (errno ${koffi.errno()})`);
      } finally {
        close(fd);
      }
    },
  };
}

/** libsystemd when `library` loads, vifd's own datagram otherwise (a host or container without it). */
export function openTransport(library = 'libsystemd.so.0'): NotifyTransport {
  try {
    return libsystemdTransport(library);
  } catch (error) {
    if (error instanceof NotifyError) throw error;
    return datagramTransport();
  }
}

/** CLOCK_MONOTONIC in microseconds: libuv's hrtime reads the same clock systemd compares with. */
export const monotonicUsec = (): bigint => process.hrtime.bigint() / 1000n;

/**
 * Each method returns false when NOTIFY_SOCKET is unset (nothing to tell) and
 * throws a NotifyError when the message could not be delivered.
 */
export class SystemdNotifier {
  #transport: NotifyTransport | null = null;

  constructor(private readonly options: { readonly env?: NodeJS.ProcessEnv; readonly library?: string } = {}) {}

  /** The transport in use, once a message needed one. */
  get transport(): NotifyTransport | null {
    return this.#transport;
  }

  /** The control socket serves: systemd may start what is ordered after vifd (libvirtd). Also ends a reload. */
  ready(): boolean { return this.send('READY=1'); }
  watchdog(): boolean { return this.send('WATCHDOG=1'); }
  /** A SIGHUP reload begins; call ready() when it is done, applied or refused. */
  reloading(): boolean { return this.send(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`); }
  stopping(): boolean { return this.send('STOPPING=1'); }
  /** A one-line status that `systemctl status vifd` shows. */
  status(text: string): boolean { return this.send(`STATUS=${text.replace(/[\r\n]+/g, ' ')}`); }

  /** `state` is newline-separated KEY=VALUE assignments. */
  send(state: string): boolean {
    const socketName = (this.options.env ?? process.env).NOTIFY_SOCKET;
    if (socketName === undefined || socketName === '') return false;
    this.#transport ??= openTransport(this.options.library);
    this.#transport.send(socketName, state);
    return true;
  }
}

let shared: SystemdNotifier | null = null;
/** The process's notifier, reading process.env, used by the functions below. */
export const defaultNotifier = (): SystemdNotifier => (shared ??= new SystemdNotifier());
const notifier = defaultNotifier;

export const notifyReady = (): boolean => notifier().ready();
export const notifyWatchdog = (): boolean => notifier().watchdog();
export const notifyReloading = (): boolean => notifier().reloading();
export const notifyStopping = (): boolean => notifier().stopping();
export const notifyStatus = (text: string): boolean => notifier().status(text);

/**
 * How often to send WATCHDOG=1: half of WatchdogSec=, as sd_watchdog_enabled(3)
 * advises, or null when systemd expects no pings from this process.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | null {
  const usec = env.WATCHDOG_USEC;
  if (usec === undefined || !/^[1-9]\d*$/.test(usec)) return null;
  // The variables are inherited: they are meant for the main process only.
  const forPid = env.WATCHDOG_PID;
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return null;
  return Math.max(1, Math.floor(Number(usec) / 2000));
}

/**
 * Pings the watchdog every watchdogIntervalMs() from a timer, so the pings stop
 * when the event loop stalls. Returns the function that stops them; a no-op
 * without WatchdogSec=.
 */
export function startWatchdog(onError: (error: unknown) => void, send: () => boolean = notifyWatchdog): () => void {
  const interval = watchdogIntervalMs();
  if (interval === null) return () => undefined;
  const timer = setInterval(() => {
    try {
      send();
    } catch (error) {
      onError(error);
    }
  }, interval);
  timer.unref();
  return () => { clearInterval(timer); };
}
