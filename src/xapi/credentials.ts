// The credentials file for XAPI over https: `username=...` and `password=...`
// lines. It holds a pool password, so it must be readable by its owner only
// (mode 0600 or 0400); anything looser is refused, naming the file and mode.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { XapiCredentialsError } from './errors.js';

export interface XapiCredentials {
  readonly username: string;
  readonly password: string;
}

/** The permission bits as ls shows them in octal, e.g. 0644. */
export const formatMode = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** Refuses a file group or others may read or write, or that is not a regular file. */
export function checkCredentialsMode(mode: number, path: string): void {
  if ((mode & constants.S_IFMT) !== constants.S_IFREG) {
    throw new XapiCredentialsError('is not a regular file', { source: path });
  }
  if ((mode & 0o077) !== 0) {
    throw new XapiCredentialsError(`has mode ${formatMode(mode)}; it holds a password and must be mode 0600 (chmod 600 ${path})`, { source: path, value: formatMode(mode) });
  }
}

/** `username=` and `password=` lines; blank lines and # comments ignored; the password is taken as written. */
export function parseCredentials(text: string, path: string): XapiCredentials {
  const values = new Map<string, string>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const equals = line.indexOf('=');
    const key = equals < 0 ? '' : line.slice(0, equals).trim();
    if (key !== 'username' && key !== 'password') {
      throw new XapiCredentialsError(`line ${index + 1}: expected username=... or password=...`, { source: path, field: key === '' ? undefined : key });
    }
    if (values.has(key)) throw new XapiCredentialsError(`line ${index + 1}: ${key} given twice`, { source: path, field: key });
    values.set(key, line.slice(equals + 1));
  }
  const username = values.get('username')?.trim() ?? '';
  const password = values.get('password');
  if (username === '') throw new XapiCredentialsError('no username= line', { source: path, field: 'username' });
  if (password === undefined) throw new XapiCredentialsError('no password= line', { source: path, field: 'password' });
  return { username, password };
}

/** Reads the file through one descriptor, so the mode checked is the mode of what is read. */
export async function readCredentialsFile(path: string): Promise<XapiCredentials> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new XapiCredentialsError(`cannot open: ${code === 'ELOOP' ? 'is a symbolic link' : code}`, { source: path }, { cause: error });
  }
  try {
    checkCredentialsMode((await handle.stat()).mode, path);
    return parseCredentials(await handle.readFile('utf8'), path);
  } finally {
    await handle.close();
  }
}
