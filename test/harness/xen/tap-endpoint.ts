// The far end of a netback-named TAP, held by the test instead of a guest:
// the frames the switch sends the domU are read here, and frames written here
// enter the switch as the domU's. The test guest's kernel has no 802.1Q
// support, so a trunk port (BRIDGE:T1:T2) is proven from here, with tagged
// ARP: a real frame crosses the port in each direction, tag included.
import { readSync, writeSync } from 'node:fs';
import * as libc from '../../../src/host/libc.js';
import { arpRequestFrame, parseArpReply } from './arp-frames.js';
import type { ArpReply } from './arp-frames.js';

// linux/if_tun.h, asm-generic/fcntl.h
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const O_NONBLOCK = 0o4000;
const POLL_MS = 20;

export class TapEndpoint {
  private constructor(readonly device: string, private fd: number) {}

  /** Attaches to an existing TAP (made with IFF_TAP | IFF_NO_PI, as the stand-in makes them) as its reader. */
  static attach(device: string): TapEndpoint {
    const fd = libc.open('/dev/net/tun', libc.O_RDWR | libc.O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw new Error(`open /dev/net/tun: ${libc.strerror(libc.errno())}`);
    const request = Buffer.alloc(40);
    request.write(device, 0, 15, 'utf8');
    request.writeUInt16LE(IFF_TAP | IFF_NO_PI, 16);
    if (libc.ioctlPointer(fd, TUNSETIFF, request) < 0) {
      const code = libc.errno();
      libc.close(fd);
      throw new Error(`attach to TAP ${device}: ${libc.strerror(code)}`);
    }
    return new TapEndpoint(device, fd);
  }

  send(frame: Buffer): void {
    try {
      writeSync(this.fd, frame);
    } catch (error) {
      // The kernel answers a write to a TAP whose link is down with EIO.
      if ((error as NodeJS.ErrnoException).code === 'EIO') throw new Error(`${this.device} is down: frames cannot cross it (the vif script brings the device up)`, { cause: error });
      throw error;
    }
  }

  /** Drops every frame queued so far (ARP and MAC learning chatter). */
  drain(): void {
    while (this.readFrame() !== null) { /* discard */ }
  }

  private readFrame(): Buffer | null {
    const buffer = Buffer.alloc(2048);
    try {
      const length = readSync(this.fd, buffer);
      return buffer.subarray(0, length);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return null;
      throw error;
    }
  }

  /** Sends the request every 300 ms and returns the first reply from `targetIp`, or null after `timeoutMs`. */
  async arp(spec: { senderMac: string; senderIp: string; targetIp: string; vlan: number | null }, timeoutMs: number): Promise<ArpReply | null> {
    this.drain();
    const deadline = Date.now() + timeoutMs;
    let nextSend = 0;
    while (Date.now() < deadline) {
      if (Date.now() >= nextSend) {
        this.send(arpRequestFrame(spec));
        nextSend = Date.now() + 300;
      }
      for (let frame = this.readFrame(); frame !== null; frame = this.readFrame()) {
        const reply = parseArpReply(frame);
        if (reply?.senderIp === spec.targetIp) return reply;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return null;
  }

  /** Sends `frame` every 300 ms until a frame read back passes `accept`; false after `timeoutMs`. */
  async exchange(frame: Buffer, accept: (frame: Buffer) => boolean, timeoutMs: number): Promise<boolean> {
    this.drain();
    const deadline = Date.now() + timeoutMs;
    let nextSend = 0;
    while (Date.now() < deadline) {
      if (Date.now() >= nextSend) {
        this.send(frame);
        nextSend = Date.now() + 300;
      }
      for (let read = this.readFrame(); read !== null; read = this.readFrame()) if (accept(read)) return true;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return false;
  }

  close(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}
