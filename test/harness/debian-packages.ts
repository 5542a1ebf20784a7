// Tools a test needs that Debian packages (shellcheck, vagrant, groff): a
// missing one is installed with apt-get when the test runs as root, as
// prereq.ts's pattern goes: what still misses after that skips the suite
// outside CI and fails it with CI=true.
import { commandExists, tryRun } from './exec.js';

export interface DebianTool {
  /** The command the test runs; without one, the package itself must be installed (a plugin, a library). */
  readonly command?: string;
  /** The Debian package that provides it. */
  readonly debianPackage: string;
}

const APT_TIMEOUT_MS = 300_000;

async function aptGet(args: readonly string[]): Promise<boolean> {
  // Another apt run (a parallel suite, host setup) holds the lock for a while: wait for it.
  const argv = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', '-y', '-o', 'DPkg::Lock::Timeout=240', ...args];
  const result = await tryRun(argv, { timeoutMs: APT_TIMEOUT_MS }).catch(() => null);
  return result?.code === 0;
}

async function installed(tool: DebianTool): Promise<boolean> {
  if (tool.command !== undefined) return commandExists(tool.command);
  const status = await tryRun(['dpkg-query', '-W', '-f', '${Status}', tool.debianPackage]).catch(() => null);
  return status?.stdout === 'install ok installed';
}

async function missingTools(tools: readonly DebianTool[]): Promise<DebianTool[]> {
  const missing: DebianTool[] = [];
  for (const tool of tools) if (!(await installed(tool))) missing.push(tool);
  return missing;
}

/** Installs what is missing (root only); returns the tools that are still missing. */
export async function installDebianTools(tools: readonly DebianTool[]): Promise<DebianTool[]> {
  const missing = await missingTools(tools);
  if (missing.length === 0 || process.getuid?.() !== 0) return missing;
  const install = ['install', '--no-install-recommends', ...new Set(missing.map((tool) => tool.debianPackage))];
  // Package lists may be absent or stale on a fresh machine: refresh once and retry.
  if (!(await aptGet(install))) {
    await aptGet(['update']);
    await aptGet(install);
  }
  return missingTools(tools);
}

export async function requireDebianTools(context: Mocha.Context, tools: readonly DebianTool[]): Promise<void> {
  const missing = await installDebianTools(tools);
  if (missing.length === 0) return;
  const what = missing.map((tool) => `${tool.command ?? tool.debianPackage} (Debian package ${tool.debianPackage})`).join(', ');
  const message = `missing prerequisites: ${what}; apt-get install could not provide them`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`      skipped: ${message}`);
  context.skip();
}
