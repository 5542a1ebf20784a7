// A unix datagram socket standing in for systemd's notify socket. Node has
// no AF_UNIX datagram sockets, so libc through koffi: bound non-blocking,
// read with drain() once the notifying process has sent what it sends.
import assert from 'node:assert/strict';
import koffi from 'koffi';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const EAGAIN = 11;

const libc = koffi.load('libc.so.6');
const socket = libc.func('int socket(int domain, int type, int protocol)') as (domain: number, type: number, protocol: number) => number;
const bind = libc.func('int bind(int fd, const uint8_t *addr, uint32_t len)') as (fd: number, addr: Buffer, len: number) => number;
const recv = libc.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)') as (fd: number, buf: Buffer, len: number, flags: number) => number;
const close = libc.func('int close(int fd)') as (fd: number) => number;

/** A bound, non-blocking datagram socket standing in for systemd's notify socket. */
export class NotifySocket {
  readonly fd: number;

  constructor(readonly name: string) {
    const abstract = name.startsWith('@');
    const path = abstract ? Buffer.concat([Buffer.from([0]), Buffer.from(name.slice(1))]) : Buffer.from(`${name}\0`);
    const address = Buffer.alloc(2 + path.length);
    address.writeUInt16LE(AF_UNIX, 0);
    path.copy(address, 2);
    this.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert.ok(this.fd >= 0, `socket: errno ${koffi.errno()}`);
    assert.equal(bind(this.fd, address, address.length), 0, `bind ${name}: errno ${koffi.errno()}`);
  }

  /** Every datagram queued so far, in order. */
  drain(): string[] {
    const datagrams: string[] = [];
    const buffer = Buffer.alloc(4096);
    for (;;) {
      const length = recv(this.fd, buffer, buffer.length, 0);
      if (length < 0) {
        assert.equal(koffi.errno(), EAGAIN, `recv: errno ${koffi.errno()}`);
        return datagrams;
      }
      datagrams.push(buffer.subarray(0, length).toString('utf8'));
    }
  }

  close(): void {
    close(this.fd);
  }
}
