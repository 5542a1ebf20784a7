// An in-memory XenStore for the hook flow's unit tests: relative paths under
// dom0's home as xenstored resolves them; calls are counted.
import type { XenStore } from '../../../src/sources/xen-hotplug/xenstore.js';

const absolute = (path: string): string => (path.startsWith('/') ? path : `/local/domain/0/${path}`);

export class MemoryXenStore implements XenStore {
  readonly values = new Map<string, string>();
  calls = 0;

  constructor(initial: Readonly<Record<string, string>> = {}) {
    for (const [path, value] of Object.entries(initial)) this.values.set(absolute(path), value);
  }

  read(path: string): Promise<string | null> {
    this.calls += 1;
    return Promise.resolve(this.values.get(absolute(path)) ?? (this.#has(path) ? '' : null));
  }

  async readMany(paths: readonly string[]): Promise<(string | null)[]> {
    const values = await Promise.all(paths.map((path) => this.read(path)));
    this.calls -= paths.length - 1;
    return values;
  }

  write(path: string, value: string): Promise<void> {
    this.calls += 1;
    this.values.set(absolute(path), value);
    return Promise.resolve();
  }

  writeAll(entries: readonly (readonly [string, string])[]): Promise<void> {
    if (entries.length > 0) this.calls += 1;
    for (const [path, value] of entries) this.values.set(absolute(path), value);
    return Promise.resolve();
  }

  rm(path: string): Promise<void> {
    this.calls += 1;
    const node = absolute(path);
    for (const key of [...this.values.keys()]) if (key === node || key.startsWith(`${node}/`)) this.values.delete(key);
    return Promise.resolve();
  }

  exists(path: string): Promise<boolean> {
    this.calls += 1;
    return Promise.resolve(this.#has(path));
  }

  #has(path: string): boolean {
    const node = absolute(path);
    return [...this.values.keys()].some((key) => key === node || key.startsWith(`${node}/`));
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
