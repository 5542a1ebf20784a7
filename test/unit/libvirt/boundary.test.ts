// The binding knows nothing of vifd (design: src/libvirt/ is a libvirt client
// any program could use). Its import lines are read from the sources, so a new
// file or a new import is covered without listing either here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, forbiddenImports, inside, localImports, sourceFiles } from '../../support/import-lines.js';

const BINDING = join(ROOT, 'src', 'libvirt');
const COMMON = join(ROOT, 'src', 'common');
/** What the binding may import from vifd's own tree: its own folder and src/common. */
const allowed = (target: string): boolean => inside(target, BINDING) || inside(target, COMMON);

describe('libvirt binding: imports nothing of vifd', () => {
  it('finds the binding\'s sources and reads their imports', () => {
    const connection = sourceFiles(BINDING).find((file) => file.endsWith('connection.ts'));
    assert.ok(connection !== undefined, `no connection.ts under ${BINDING}`);
    assert.ok(localImports(connection, readFileSync(connection, 'utf8')).length > 0, 'the import reader found no imports in connection.ts');
  });

  it('has no file that imports from outside src/libvirt and src/common (src/model above all)', () => {
    assert.deepEqual(forbiddenImports(BINDING, allowed), []);
  });

  it('leans on a src/common that imports nothing outside itself (else the binding would reach vifd through it)', () => {
    assert.deepEqual(forbiddenImports(COMMON, (target) => inside(target, COMMON)), []);
  });

  it('would catch an import of src/model, static, re-exported, multi-line or dynamic', () => {
    const text = [
      "import { VifdError } from '../model/errors.js';",
      'import type { X } from "../model/xmlns.js";',
      "export { Backoff } from '../model/backoff.js';",
      "import '../model/side-effect.js';",
      "const lazy = await import('../model/plan.js');",
      "import {\n  a,\n  b,\n} from '../model/multi-line.js';",
    ].join('\n');
    const targets = localImports(join(BINDING, 'probe.ts'), text).filter((target) => !allowed(target));
    assert.equal(targets.length, 6);
    assert.ok(targets.every((target) => inside(target, join(ROOT, 'src', 'model'))));
  });
});
