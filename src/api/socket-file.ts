// The life of a daemon's unix socket file, shared by the control socket and
// the hook socket: it appears at its path already mode 0600, a stale file a
// killed daemon left is replaced, a live one is never stolen, and on close
// only our own file is removed (never a successor's).
import { chmod, link, lstat, mkdir, mkdtemp, rm, unlink } from 'node:fs/promises';
import type net from 'node:net';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { ControlSocketInUseError, ControlSocketPathError, errnoCode } from './errors.js';

/** sun_path holds 108 bytes, the last one a NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
/** How often publishing re-checks a path that reappears between its check and its link(). */
const PUBLISH_ATTEMPTS = 3;

/** The socket file as we made it, so that closing never removes a successor's socket. */
export interface PublishedSocket {
  readonly path: string;
  readonly dev: bigint;
  readonly ino: bigint;
}

/**
 * Makes `server` listen on `path` (resolved; missing parent directories made
 * 0700). Binds in a fresh 0700 directory that only this user can enter, makes
 * the socket 0600 there, then hard-links it to its real path. chmod after a
 * plain listen() would leave a moment in which a socket made under the umask
 * takes anyone's connection; changing the umask instead would affect every
 * file the rest of the daemon creates meanwhile (it is process-wide, and fs
 * calls run on other threads). link(), unlike rename(), fails when the path
 * exists, so a daemon that appeared since the stale check is never silently
 * replaced. `onError` receives what the server reports once it listens
 * (EMFILE on accept), which would otherwise be thrown from an event.
 */
export async function publishSocket(server: net.Server, path: string, onError: (error: Error) => void): Promise<PublishedSocket> {
  const socketPath = resolve(path);
  assertSocketPathFits(socketPath);
  // Only what is missing gets 0700 (the umask can only take bits away); an existing directory's mode is the administrator's.
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  const privateDir = await mkdtemp(join(dirname(socketPath), '.vifd-'));
  try {
    const temporary = join(privateDir, 's');
    assertSocketPathFits(temporary);
    await listenOn(server, temporary);
    server.on('error', onError);
    await chmod(temporary, 0o600);
    for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt += 1) {
      await clearStaleSocket(socketPath);
      try {
        await link(temporary, socketPath);
        const { dev, ino } = await lstat(socketPath, { bigint: true });
        return { path: socketPath, dev, ino };
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw pathError(`cannot create ${socketPath}`, error);
      }
    }
    throw new ControlSocketPathError(`${socketPath} keeps reappearing: is another vifd starting?`);
  } finally {
    await rm(privateDir, { recursive: true, force: true });
  }
}

/** Removes the socket file if it is still the one we published; a failure other than ENOENT goes to `onError`. */
export async function unpublishSocket(published: PublishedSocket | undefined, onError: (error: unknown) => void): Promise<void> {
  if (published === undefined) return;
  try {
    const now = await lstat(published.path, { bigint: true });
    if (now.dev === published.dev && now.ino === published.ino) await unlink(published.path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') onError(pathError(`cannot remove ${published.path}`, error));
  }
}

export function pathError(detail: string, cause: unknown): ControlSocketPathError {
  const why = errnoCode(cause) ?? (cause instanceof Error ? cause.message : String(cause));
  return new ControlSocketPathError(`${detail}: ${why}`, {}, { cause });
}

function assertSocketPathFits(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new ControlSocketPathError(`${path} is ${bytes} bytes; a unix socket path holds at most ${MAX_SOCKET_PATH_BYTES}`);
  }
}

/** Removes a socket nothing listens on; refuses a live one and anything that is not a socket. */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw pathError(`cannot inspect ${path}`, error);
  }
  if (!isSocket) throw new ControlSocketPathError(`${path} exists and is not a socket; it was left alone`);
  const state = await probe(path);
  if (state === 'live') throw new ControlSocketInUseError(`another vifd is already listening on ${path}`);
  if (state === 'gone') return;
  try {
    await unlink(path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw pathError(`cannot remove the stale socket ${path}`, error);
  }
}

/** Whether something accepts connections on a socket file: the only sure sign of a live daemon. */
function probe(path: string): Promise<'live' | 'stale' | 'gone'> {
  return new Promise((settle, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      settle('live');
    });
    socket.once('error', (error) => {
      const code = errnoCode(error);
      if (code === 'ECONNREFUSED') settle('stale');
      else if (code === 'ENOENT') settle('gone');
      else if (code === 'EAGAIN') settle('live'); // a full accept queue: only a live listener has one
      else reject(pathError(`cannot tell whether a vifd listens on ${path}`, error));
    });
  });
}

function listenOn(server: net.Server, path: string): Promise<void> {
  return new Promise((settle, reject) => {
    const onError = (error: Error): void => { reject(pathError(`cannot listen on ${path}`, error)); };
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      settle();
    });
  });
}

/**
 * Closes a socket server the way both of vifd's sockets close: the file goes
 * first (a client then finds no socket rather than one nobody answers), then
 * the listener, and open connections are dropped (pending answers are lost).
 */
export async function shutdownSocketServer(published: PublishedSocket | undefined, server: net.Server, sockets: ReadonlySet<net.Socket>,
  onError: (error: unknown) => void): Promise<void> {
  await unpublishSocket(published, onError);
  const stopped = server.listening ? new Promise<void>((done) => server.close(() => { done(); })) : undefined;
  for (const socket of sockets) socket.destroy();
  await stopped;
}
