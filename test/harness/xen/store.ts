// The simulated xenstore's directory, from the test's side: what the
// xenstore-* programs in ./bin read and write (layout in bin/xenstore-sim),
// read and written directly by the toolstack stand-in and by assertions.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/harness/xen/bin in the source tree (tsc does not copy it into dist). */
export const SIM_BIN_DIR = fileURLToPath(new URL('../../../../test/harness/xen/bin', import.meta.url));

const PATH = /^\/?[A-Za-z0-9_@-]+(\/[A-Za-z0-9_@-]+)*$/;
const VALUE_FILE = '.v';

export class SimXenStore {
  private constructor(readonly dir: string) {}

  static create(): SimXenStore {
    return new SimXenStore(mkdtempSync(join(tmpdir(), 'vifd-xenstore-')));
  }

  /** The environment that sends the xenstore-* programs to this store: its programs first on PATH. */
  env(): Record<string, string> {
    return { VIFD_XENSTORE_SIM: this.dir, PATH: `${SIM_BIN_DIR}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  }

  /** Absolute form of a path; relative paths are under dom0's home, as xenstored resolves them. */
  static absolute(path: string): string {
    if (!PATH.test(path)) throw new Error(`sim xenstore: invalid path ${JSON.stringify(path)}`);
    return path.startsWith('/') ? path : `/local/domain/0/${path}`;
  }

  #dirOf(path: string): string {
    return join(this.dir, SimXenStore.absolute(path));
  }

  write(path: string, value: string): void {
    const dir = this.#dirOf(path);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${VALUE_FILE}.t`), value);
    renameSync(join(dir, `${VALUE_FILE}.t`), join(dir, VALUE_FILE));
  }

  writeAll(base: string, values: Readonly<Record<string, string>>): void {
    for (const [key, value] of Object.entries(values)) this.write(`${base}/${key}`, value);
  }

  /** The value, '' for a node without one, null for no node. */
  read(path: string): string | null {
    const dir = this.#dirOf(path);
    if (!existsSync(dir)) return null;
    return existsSync(join(dir, VALUE_FILE)) ? readFileSync(join(dir, VALUE_FILE), 'utf8') : '';
  }

  exists(path: string): boolean {
    return existsSync(this.#dirOf(path));
  }

  rm(path: string): void {
    rmSync(this.#dirOf(path), { recursive: true, force: true });
  }

  /** Every node holding a value under `under`, by absolute path, in sorted order. */
  dump(under = '/'): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (path: string): void => {
      const dir = join(this.dir, path);
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        if (entry.isDirectory()) walk(path === '/' ? `/${entry.name}` : `${path}/${entry.name}`);
        else if (entry.name === VALUE_FILE) out[path] = readFileSync(join(dir, entry.name), 'utf8');
      }
    };
    walk(under === '/' ? '/' : SimXenStore.absolute(under));
    return out;
  }

  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
