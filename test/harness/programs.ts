// Which vifd the e2e tier runs. `make test` runs that tier against the
// installed Debian package (VIFD_TEST_PROGRAMS=package, set by
// scripts/run-tests.sh inside scripts/package-roundtrip.sh): the programs in
// /usr/sbin and /usr/bin, and the hook program under /usr/lib/vifd, exactly as
// dpkg put them. Otherwise (make test-e2e, a developer's run) this checkout's
// build, with the node running the tests.
import { existsSync } from 'node:fs';

const CHECKOUT_CLI = new URL('../../src/cli/', import.meta.url).pathname;
const PACKAGE_LIB_CLI = '/usr/lib/vifd/dist/src/cli/';

export const underPackage = (): boolean => process.env.VIFD_TEST_PROGRAMS === 'package';

function installed(path: string): string {
  if (!existsSync(path)) throw new Error(`VIFD_TEST_PROGRAMS=package, but ${path} is not installed (scripts/package-roundtrip.sh installs it)`);
  return path;
}

/** argv prefix that runs vifd. */
export const vifdCommand = (): string[] => underPackage() ? [installed('/usr/sbin/vifd')] : [process.execPath, `${CHECKOUT_CLI}vifd.js`];

/** argv prefix that runs vifctl. */
export const vifctlCommand = (): string[] => underPackage() ? [installed('/usr/bin/vifctl')] : [process.execPath, `${CHECKOUT_CLI}vifctl.js`];

/** argv prefix that runs the node hook program (what the shim falls back to). */
export const hookProgramCommand = (): string[] =>
  underPackage() ? [installed('/usr/bin/node'), installed(`${PACKAGE_LIB_CLI}hook.js`)] : [process.execPath, `${CHECKOUT_CLI}hook.js`];
