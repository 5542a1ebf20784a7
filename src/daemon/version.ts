// The version vifd and vifctl report: package.json's, read at run time from
// the installed tree (dist/src/daemon/ is three levels below it), so a build
// never carries a stale copy.
import { readFileSync } from 'node:fs';

const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);

export function packageVersion(): string {
  const text = readFileSync(PACKAGE_JSON, 'utf8');
  const { version } = JSON.parse(text) as { version?: unknown };
  if (typeof version !== 'string' || version === '') throw new Error(`${PACKAGE_JSON.pathname} has no version`);
  return version;
}
