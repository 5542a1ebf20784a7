// Kernel network objects for tests: TAPs, veth pairs, namespaces. Every delete
// succeeds when the object is already gone, so cleanup can always be repeated.
import { existsSync } from 'node:fs';
import { CommandError, run, tryRun } from './exec.js';

const GONE = /Cannot find device|does not exist|No such file or directory/;

async function deleteIgnoringGone(argv: readonly string[]): Promise<void> {
  const result = await tryRun(argv);
  if (result.code !== 0 && !GONE.test(result.stderr)) throw new CommandError(argv, result);
}

export async function createTap(name: string, options: { multiQueue?: boolean } = {}): Promise<void> {
  const argv = ['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tap'];
  if (options.multiQueue === true) argv.push('multi_queue');
  await run(argv);
  await run(['ip', 'link', 'set', 'dev', name, 'up']);
}

export async function createVethPair(name: string, peer: string): Promise<void> {
  await run(['ip', 'link', 'add', 'dev', name, 'type', 'veth', 'peer', 'name', peer]);
  await run(['ip', 'link', 'set', 'dev', name, 'up']);
}

/** Deletes a link in the host namespace (a veth pair goes with either end). */
export const deleteLink = (name: string): Promise<void> => deleteIgnoringGone(['ip', 'link', 'del', 'dev', name]);

export async function linkExists(name: string): Promise<boolean> {
  return (await tryRun(['ip', 'link', 'show', 'dev', name])).code === 0;
}

export const createNetns = async (name: string): Promise<void> => {
  await run(['ip', 'netns', 'add', name]);
  await run(['ip', '-n', name, 'link', 'set', 'dev', 'lo', 'up']);
};

export const deleteNetns = (name: string): Promise<void> => deleteIgnoringGone(['ip', 'netns', 'del', name]);

export const netnsExists = (name: string): boolean => existsSync(`/run/netns/${name}`);

/** Moves a link into a namespace and gives it an address there. */
export async function moveIntoNetns(link: string, netns: string, cidr: string): Promise<void> {
  await run(['ip', 'link', 'set', 'dev', link, 'netns', netns]);
  await run(['ip', '-n', netns, 'addr', 'add', cidr, 'dev', link]);
  await run(['ip', '-n', netns, 'link', 'set', 'dev', link, 'up']);
}

export async function listLinks(): Promise<string[]> {
  const out = await run(['ip', '-o', 'link', 'show']);
  // "12: name@peer: <...>" -> name
  return out.split('\n').flatMap((line) => {
    const match = /^\d+:\s+([^:@\s]+)/.exec(line);
    return match?.[1] !== undefined ? [match[1]] : [];
  });
}

export async function listNetns(): Promise<string[]> {
  const out = await run(['ip', 'netns', 'list']);
  return out.split('\n').flatMap((line) => (line.trim() === '' ? [] : [line.split(/\s/)[0] ?? '']));
}

/** True when at least one of `count` pings from the namespace to `address` is answered. */
export async function pingFrom(netns: string, address: string, options: { count?: number } = {}): Promise<boolean> {
  const count = String(options.count ?? 3);
  const result = await tryRun(['ip', 'netns', 'exec', netns, 'ping', '-n', '-q', '-c', count, '-i', '0.2', '-W', '1', address]);
  return result.code === 0;
}

/**
 * Pings until one reply arrives or the deadline passes: the first packets can
 * be lost to ARP and MAC learning, which says nothing about reachability.
 */
export async function pingUntilReply(netns: string, address: string, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  do {
    if (await pingFrom(netns, address, { count: 1 })) return true;
  } while (Date.now() < end);
  return false;
}
