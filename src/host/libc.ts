// The few libc calls the TAP effector needs, through koffi. ioctl is variadic
// in C; on x86-64 and aarch64 Linux an integer or pointer third argument is
// passed the same way either way, so two fixed prototypes are safe and avoid
// koffi's slower variadic call path.
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

export const open = libc.func('int open(const char *path, int flags)') as (path: string, flags: number) => number;
export const close = libc.func('int close(int fd)') as (fd: number) => number;
export const socket = libc.func('int socket(int domain, int type, int protocol)') as (domain: number, type: number, protocol: number) => number;
export const ioctlPointer = libc.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)') as
  (fd: number, request: number, arg: Buffer) => number;
export const ioctlValue = libc.func('int ioctl(int fd, unsigned long request, unsigned long arg)') as
  (fd: number, request: number, arg: number) => number;
const strerrorC = libc.func('const char *strerror(int errnum)') as (errnum: number) => string;

export const errno = (): number => koffi.errno();
export const strerror = (code: number): string => strerrorC(code);

export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
