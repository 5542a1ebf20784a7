// vifctl speaks the control protocol through api/protocol.ts's shapes: no
// file of the command line imports the engine (whose types may change with
// no change on the wire). Read from the sources' import lines.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, forbiddenImports, inside } from '../../support/import-lines.js';

const CLI = join(ROOT, 'src', 'cli');
const ENGINE = join(ROOT, 'src', 'engine');

describe('cli: imports nothing of the engine', () => {
  it('has no file under src/cli that imports from src/engine', () => {
    assert.deepEqual(forbiddenImports(CLI, (target) => !inside(target, ENGINE)), []);
  });

  it('does read src/cli\'s imports (an empty reading would pass anything)', () => {
    const imports = forbiddenImports(CLI, () => false);
    assert.ok(imports.some((line) => line.startsWith('src/cli/vifctl.ts imports src/cli/')), imports.slice(0, 3).join('; '));
  });
});
