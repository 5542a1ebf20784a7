// The binding knows nothing of vifd (design: src/libvirt/ is a libvirt client
// any program could use). Its import lines are read from the sources, so a new
// file or a new import is covered without listing either here.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/unit/libvirt -> the worktree's root; the sources, not the compiled output, are read.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const BINDING = join(ROOT, 'src', 'libvirt');
/** What the binding may import from vifd's own tree: its own folder and src/common. */
const ALLOWED = [BINDING, join(ROOT, 'src', 'common')];
const SPECIFIER = /^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []);
}

/** Each relative import of `file`, resolved to a path. */
function localImports(file: string, text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((match) => match[1] ?? match[2] ?? match[3] ?? '')
    .filter((specifier) => specifier.startsWith('.')).map((specifier) => resolve(dirname(file), specifier));
}

const inside = (path: string, dir: string): boolean => !relative(dir, path).startsWith('..');

describe('libvirt binding: imports nothing of vifd', () => {
  it('finds the binding\'s sources and reads their imports', () => {
    const files = sourceFiles(BINDING);
    assert.ok(files.some((file) => file.endsWith('connection.ts')), `no sources under ${BINDING}`);
    const connection = files.find((file) => file.endsWith('connection.ts')) ?? '';
    assert.ok(localImports(connection, readFileSync(connection, 'utf8')).length > 0, 'the import reader found no imports in connection.ts');
  });

  it('has no file that imports from outside src/libvirt and src/common (src/model above all)', () => {
    const offending = sourceFiles(BINDING).flatMap((file) => localImports(file, readFileSync(file, 'utf8'))
      .filter((target) => !ALLOWED.some((dir) => inside(target, dir)))
      .map((target) => `${relative(ROOT, file)} imports ${relative(ROOT, target)}`));
    assert.deepEqual(offending, []);
  });

  it('leans on a src/common that imports nothing outside itself (else the binding would reach vifd through it)', () => {
    const common = join(ROOT, 'src', 'common');
    const offending = sourceFiles(common).flatMap((file) => localImports(file, readFileSync(file, 'utf8'))
      .filter((target) => !inside(target, common))
      .map((target) => `${relative(ROOT, file)} imports ${relative(ROOT, target)}`));
    assert.deepEqual(offending, []);
  });

  it('would catch an import of src/model, static, re-exported or dynamic', () => {
    const file = join(BINDING, 'probe.ts');
    const text = [
      "import { VifdError } from '../model/errors.js';",
      "import type { X } from \"../model/xmlns.js\";",
      "export { Backoff } from '../model/backoff.js';",
      "import '../model/side-effect.js';",
      "const lazy = await import('../model/plan.js');",
      "import {\n  a,\n  b,\n} from '../model/multi-line.js';",
    ].join('\n');
    const targets = localImports(file, text).filter((target) => !ALLOWED.some((dir) => inside(target, dir)));
    assert.equal(targets.length, 6);
    assert.ok(targets.every((target) => inside(target, join(ROOT, 'src', 'model'))));
  });
});
