// Unique, short resource names for one test run, and the sweep that removes
// what runs that died (SIGKILL, a crashed runner) left behind.
//
// A name is `vt` + run id (4 chars) + kind letter + counter, e.g. `vt3k9qt7`:
// at most 15 bytes so it is a valid interface name, and the run id ties it to a
// registry file /var/lib/vifd-test/runs/<runId> holding the pid of the run.
// Only names whose run has a registry entry are ever swept: an interface that
// merely looks like ours (an operator's `vtnet0b1`) is never touched. The
// registry is on disk, not in /run, because OVS bridges survive a reboot.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const NAME_PREFIX = 'vt';
export const RUN_REGISTRY = '/var/lib/vifd-test/runs';
const RUN_ID_CHARS = 4;
const NAME_PATTERN = new RegExp(`^${NAME_PREFIX}([0-9a-z]{${RUN_ID_CHARS}})[a-z]`);

export type ResourceKind = 'bridge' | 'tap' | 'veth' | 'netns' | 'domain' | 'port';
const KIND_LETTER: Record<ResourceKind, string> = {
  bridge: 'b', tap: 't', veth: 'v', netns: 'n', domain: 'd', port: 'p',
};

function newRunId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return Array.from(randomBytes(RUN_ID_CHARS), (byte) => alphabet[byte % alphabet.length]).join('');
}

export const runId: string = newRunId();
let counter = 0;
let registered = false;
let leftovers = false;

/** Keeps this run's registry entry at exit, so the next run sweeps what is left. */
export function noteLeftovers(): void {
  leftovers = true;
}

/** For the harness's own tests, which make a cleanup fail on purpose. */
export function takeLeftoversNote(): boolean {
  const noted = leftovers;
  leftovers = false;
  return noted;
}

function register(): void {
  if (registered) return;
  mkdirSync(RUN_REGISTRY, { recursive: true });
  writeFileSync(join(RUN_REGISTRY, runId), `${process.pid}\n`);
  registered = true;
  process.once('exit', () => {
    if (!leftovers) rmSync(join(RUN_REGISTRY, runId), { force: true });
  });
}

/** A fresh name for a resource of this run, at most 15 bytes. */
export function uniqueName(kind: ResourceKind): string {
  register();
  counter += 1;
  const name = `${NAME_PREFIX}${runId}${KIND_LETTER[kind]}${counter.toString(36)}`;
  if (Buffer.byteLength(name) > 15) throw new Error(`harness: name ${name} exceeds 15 bytes`);
  return name;
}

/** The run id a harness-made name belongs to, or null for names not ours. */
export function runIdOf(name: string): string | null {
  return NAME_PATTERN.exec(name)?.[1] ?? null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A run of ours whose process is gone: it has a registry entry and its pid is
 * not alive. Without an entry the name is not provably ours, so it is left alone.
 */
export function isDeadRun(id: string): boolean {
  if (id === runId) return false;
  let text: string;
  try {
    text = readFileSync(join(RUN_REGISTRY, id), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const pid = Number.parseInt(text, 10);
  return !(Number.isInteger(pid) && pid > 0 && pidAlive(pid));
}

export function forgetDeadRuns(): void {
  let entries: string[];
  try {
    entries = readdirSync(RUN_REGISTRY);
  } catch {
    return;
  }
  for (const id of entries) if (isDeadRun(id)) rmSync(join(RUN_REGISTRY, id), { force: true });
}
