// A network device's MAC, MTU and up flag set through ioctls on one AF_INET
// control socket (no process per device, no `ip`): what TapDevices does to
// its TAPs and NetDevices to devices Xen made.
import { HostOperationError } from './errors.js';
import * as libc from './libc.js';

// linux/sockios.h, linux/if.h (checked against the headers).
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCSIFMTU = 0x8922;
const SIOCSIFHWADDR = 0x8924;
export const IFF_UP = 0x1;
const ARPHRD_ETHER = 1;
const IFREQ_SIZE = 40;
/** Offset of struct ifreq's union, after char ifr_name[16]. */
export const IFREQ_UNION = 16;

/** A struct ifreq naming the device. */
export function ifreq(name: string): Buffer {
  const request = Buffer.alloc(IFREQ_SIZE);
  request.write(name, 0, 15, 'utf8');
  return request;
}

/**
 * Errors read `<label> <name>: <call> failed: <strerror> (errno N)` and carry
 * the errno as the context's value (a caller tells ENODEV apart by it).
 */
export function linkCallFailed(label: string, name: string, call: string, code = libc.errno()): never {
  throw new HostOperationError(`${label} ${name}: ${call} failed: ${libc.strerror(code)} (errno ${code})`, { field: 'device', value: code });
}

export class LinkIoctls {
  private controlSocket = -1;

  /** `label` names the device in errors: "TAP", "device". */
  constructor(private readonly label: string) {}

  setMac(name: string, mac: string): void {
    const request = ifreq(name);
    request.writeUInt16LE(ARPHRD_ETHER, IFREQ_UNION);
    Buffer.from(mac.split(':').map((octet) => Number.parseInt(octet, 16))).copy(request, IFREQ_UNION + 2);
    this.ioctl(name, SIOCSIFHWADDR, request, 'SIOCSIFHWADDR');
  }

  setMtu(name: string, mtu: number): void {
    const request = ifreq(name);
    request.writeInt32LE(mtu, IFREQ_UNION);
    this.ioctl(name, SIOCSIFMTU, request, 'SIOCSIFMTU');
  }

  /** Sets the up flag, keeping the device's other flags; returns `up`. */
  setUp(name: string, up: boolean): boolean {
    const request = ifreq(name);
    this.ioctl(name, SIOCGIFFLAGS, request, 'SIOCGIFFLAGS');
    const flags = request.readUInt16LE(IFREQ_UNION);
    request.writeUInt16LE(up ? flags | IFF_UP : flags & ~IFF_UP, IFREQ_UNION);
    this.ioctl(name, SIOCSIFFLAGS, request, 'SIOCSIFFLAGS');
    return up;
  }

  /** Releases the control socket (opened again on the next call). */
  close(): void {
    if (this.controlSocket >= 0) libc.close(this.controlSocket);
    this.controlSocket = -1;
  }

  private ioctl(name: string, request: number, buffer: Buffer, call: string): void {
    if (this.controlSocket < 0) {
      this.controlSocket = libc.socket(libc.AF_INET, libc.SOCK_DGRAM | libc.SOCK_CLOEXEC, 0);
      if (this.controlSocket < 0) linkCallFailed(this.label, name, 'socket(AF_INET)');
    }
    if (libc.ioctlPointer(this.controlSocket, request, buffer) < 0) linkCallFailed(this.label, name, call);
  }
}
