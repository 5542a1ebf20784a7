// A NETLINK_ROUTE socket through koffi: socket, bind, sendto, recv. The kernel
// handles an rtnetlink request inside sendto, so the answer is queued when
// sendto returns; recv is non-blocking and only retried (on a timer, never a
// busy loop) if the answer is somehow late, so the event loop never blocks.
import koffi from 'koffi';
import { close, errno, socket, strerror } from '../libc.js';
import { HostOperationError } from '../errors.js';
import { decodeMessages } from './rtnetlink-codec.js';
import type { NetlinkMessage } from './rtnetlink-codec.js';

const libc = koffi.load('libc.so.6');
const bind = libc.func('int bind(int fd, const uint8_t *addr, uint32_t len)') as (fd: number, addr: Buffer, len: number) => number;
const sendto = libc.func('intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)') as
  (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number;
const recv = libc.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)') as (fd: number, buf: Buffer, len: number, flags: number) => number;
const setsockopt = libc.func('int setsockopt(int fd, int level, int name, const uint8_t *value, uint32_t len)') as
  (fd: number, level: number, name: number, value: Buffer, len: number) => number;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const EAGAIN = 11;
const EINTR = 4;
/** IFLA_VFINFO_LIST alone can be ~64 KiB; the kernel never sends more than this in one datagram. */
const RECEIVE_BYTES = 256 * 1024;
const ANSWER_DEADLINE_MS = 2000;
const RETRY_MS = 5;
const MAX_EARLY = 1024;

/** struct sockaddr_nl {u16 family; u16 pad; u32 pid; u32 groups} for the kernel (pid 0). */
const kernelAddress = (): Buffer => {
  const address = Buffer.alloc(12);
  address.writeUInt16LE(AF_NETLINK, 0);
  return address;
};

const fail = (call: string): never => {
  const code = errno();
  throw new HostOperationError(`${call} on a NETLINK_ROUTE socket failed: ${strerror(code)} (errno ${code})`);
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class RtnetlinkSocket {
  private seq = Math.floor(Date.now() / 1000) & 0xffff;
  private readonly buffer = Buffer.alloc(RECEIVE_BYTES);
  private open = true;
  /** Answers read while looking for another request's answer (bounded: dropped when their request gives up). */
  private readonly early = new Map<number, NetlinkMessage>();

  private constructor(private readonly fd: number) {}

  static open(): RtnetlinkSocket {
    const fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) fail('socket');
    const on = Buffer.alloc(4);
    on.writeInt32LE(1);
    // Errors then carry the kernel's text and echo only the request header.
    if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, on, 4) < 0 || setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, on, 4) < 0 || bind(fd, kernelAddress(), 12) < 0) {
      const code = errno();
      close(fd);
      throw new HostOperationError(`setting up a NETLINK_ROUTE socket failed: ${strerror(code)} (errno ${code})`);
    }
    return new RtnetlinkSocket(fd);
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  /** Sends one request and returns the first answer carrying its sequence number. */
  async request(message: Buffer, seq: number): Promise<NetlinkMessage> {
    if (!this.open) throw new HostOperationError('the NETLINK_ROUTE socket is closed');
    if (sendto(this.fd, message, message.length, 0, kernelAddress(), 12) < 0) fail('sendto');
    const deadline = Date.now() + ANSWER_DEADLINE_MS;
    for (;;) {
      const answer = this.early.get(seq) ?? this.receiveNow(seq);
      this.early.delete(seq);
      if (answer !== undefined) return answer;
      if (Date.now() > deadline) throw new HostOperationError(`no netlink answer to request ${seq} within ${ANSWER_DEADLINE_MS} ms`);
      await sleep(RETRY_MS);
    }
  }

  /** Reads queued datagrams until `seq`'s answer; others' answers are kept for them. */
  private receiveNow(seq: number): NetlinkMessage | undefined {
    for (;;) {
      const length = recv(this.fd, this.buffer, this.buffer.length, MSG_DONTWAIT | MSG_TRUNC);
      if (length < 0) {
        const code = errno();
        if (code === EAGAIN) return undefined;
        if (code === EINTR) continue;
        fail('recv');
      }
      if (length > this.buffer.length) throw new HostOperationError(`a netlink answer of ${length} bytes does not fit ${this.buffer.length}`);
      let mine: NetlinkMessage | undefined;
      for (const reply of decodeMessages(this.buffer.subarray(0, length))) {
        if (reply.seq === seq) mine ??= reply;
        else if (this.early.size < MAX_EARLY) this.early.set(reply.seq, reply);
      }
      if (mine !== undefined) return mine;
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    close(this.fd);
  }
}
