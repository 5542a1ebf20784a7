// Which of vifd's own files a source file imports, read from its text: the
// folder rules (design: which folder may import which) are checked by tests
// that need no lint plug-in. Compiled tests read the sources, not dist/.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The worktree's root: this file runs from dist/test/support/. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Static imports and re-exports (one line or several), side-effect imports and dynamic import() of a literal. */
const SPECIFIER = /^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

export function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []);
}

/** Each relative import of `file` (whose text is `text`), resolved to a path. */
export function localImports(file: string, text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((match) => match[1] ?? match[2] ?? match[3] ?? '')
    .filter((specifier) => specifier.startsWith('.')).map((specifier) => resolve(dirname(file), specifier));
}

export const inside = (path: string, dir: string): boolean => !relative(dir, path).startsWith('..');

/** "src/x/a.ts imports src/y/b.js" for each import of a file under `dir` that `allowed` refuses. */
export function forbiddenImports(dir: string, allowed: (target: string) => boolean): string[] {
  return sourceFiles(dir).flatMap((file) => localImports(file, readFileSync(file, 'utf8'))
    .filter((target) => !allowed(target))
    .map((target) => `${relative(ROOT, file)} imports ${relative(ROOT, target)}`));
}
