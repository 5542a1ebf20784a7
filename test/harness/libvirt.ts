// libvirt domains for tests, through virsh (the binding under test lives in
// src/libvirt; the harness must not depend on it).
import { existsSync, readFileSync } from 'node:fs';
import { run, tryRun } from './exec.js';

export const LIBVIRT_URI = 'qemu:///system';
const virsh = (...args: string[]): string[] => ['virsh', '-q', '-c', LIBVIRT_URI, ...args];

// virsh reads XML from a file path; Node's stdin pipes are sockets, which
// virsh cannot open as /dev/stdin, so callers write the XML to a file first.

/** Starts a transient domain from an XML file (gone once destroyed). */
export async function createTransientDomain(xmlPath: string): Promise<void> {
  await run(virsh('create', xmlPath), { timeoutMs: 120_000 });
}

export async function defineDomain(xmlPath: string): Promise<void> {
  await run(virsh('define', xmlPath));
}

/** Destroys and undefines; succeeds when the domain is already gone. */
export async function removeDomain(name: string): Promise<void> {
  const destroyed = await tryRun(virsh('destroy', name), { timeoutMs: 60_000 });
  const destroyGone = /failed to get domain|not running|Domain not found/i;
  if (destroyed.code !== 0 && !destroyGone.test(destroyed.stderr)) {
    throw new Error(`virsh destroy ${name}: ${destroyed.stderr.trim()}`);
  }
  const undefined_ = await tryRun(virsh('undefine', name));
  if (undefined_.code !== 0 && !/failed to get domain|Domain not found|transient domain/i.test(undefined_.stderr)) {
    throw new Error(`virsh undefine ${name}: ${undefined_.stderr.trim()}`);
  }
}

export async function listDomains(): Promise<string[]> {
  const out = await run(virsh('list', '--all', '--name'));
  return out.split('\n').map((line) => line.trim()).filter((line) => line !== '');
}

export async function domainExists(name: string): Promise<boolean> {
  return (await tryRun(virsh('domstate', name))).code === 0;
}

export class SerialTimeoutError extends Error {
  constructor(logPath: string, pattern: RegExp, timeoutMs: number, tail: string) {
    super(`no line matching ${String(pattern)} in ${logPath} within ${timeoutMs} ms; last output:\n${tail}`);
    this.name = 'SerialTimeoutError';
  }
}

const readLog = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');

/** Polls a serial log file until a line matches; the error shows the log's tail. */
export async function waitForSerialLine(logPath: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const line = readLog(logPath).split(/\r?\n/).find((candidate) => pattern.test(candidate));
    if (line !== undefined) return line;
    if (Date.now() > end) {
      const tail = readLog(logPath).split(/\r?\n/).slice(-15).join('\n');
      throw new SerialTimeoutError(logPath, pattern, timeoutMs, tail);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Hot-plugs a device into a running domain (`--live`). */
export async function attachDeviceLive(domain: string, xmlPath: string): Promise<void> {
  await run(virsh('attach-device', domain, xmlPath, '--live'), { timeoutMs: 60_000 });
}

/** Asks the guest to release a device; completion is asynchronous in the guest. */
export async function detachDeviceLive(domain: string, xmlPath: string): Promise<void> {
  await run(virsh('detach-device', domain, xmlPath, '--live'), { timeoutMs: 60_000 });
}
