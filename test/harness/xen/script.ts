// Which vif hotplug script an e2e test runs: the installed one, where xl and
// xenopsd find it (make install puts it there; make test installs before the
// tests run). A developer who may not install points VIFD_XEN_SCRIPT at a copy
// rendered from the checkout (renderVifVifd in ./toolstack.ts). As with every
// prerequisite (../prereq.ts), a missing script skips outside CI and fails
// the run with CI=true.
import { accessSync, constants, existsSync } from 'node:fs';

export const INSTALLED_XEN_SCRIPT = '/etc/xen/scripts/vif-vifd';
export const XEN_SCRIPT_VARIABLE = 'VIFD_XEN_SCRIPT';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false; // not there or not executable: both mean "cannot be run"
  }
}

/** The script and where it came from, or why there is none. */
export function resolveXenScript(env: NodeJS.ProcessEnv = process.env): { path: string; problem: null } | { path: null; problem: string } {
  const chosen = env[XEN_SCRIPT_VARIABLE];
  if (chosen !== undefined && chosen !== '') {
    return executable(chosen) ? { path: chosen, problem: null } : { path: null, problem: `${XEN_SCRIPT_VARIABLE}=${chosen} is not an executable file` };
  }
  if (executable(INSTALLED_XEN_SCRIPT)) return { path: INSTALLED_XEN_SCRIPT, problem: null };
  const why = existsSync(INSTALLED_XEN_SCRIPT) ? 'is not executable' : 'is not installed';
  return { path: null, problem: `the Xen vif hotplug script ${INSTALLED_XEN_SCRIPT} ${why}: make install (or set ${XEN_SCRIPT_VARIABLE} to a rendered copy)` };
}

/** The script to run; skips the suite (fails it with CI=true) when there is none. */
export function requireXenScript(context: Mocha.Context): string {
  const resolved = resolveXenScript();
  if (resolved.path !== null) return resolved.path;
  const message = `missing prerequisites: ${resolved.problem}`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`      skipped: ${message}`);
  context.skip();
}
