// The folder rules of eslint-rules/boundaries.js, checked through the real rule
// and table: each case is a source string linted as if it lay at a path of
// this tree (the rule reads only the importing path for folder checks).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Linter } from 'eslint';
import type { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

interface BoundaryOptions { root: string; covered?: string[]; zones: unknown[]; programs?: unknown[] }
interface BoundariesModule { importBoundaryOptions: (root: string) => BoundaryOptions }
interface RuleModule { default: ESLint.Plugin }

let plugin: ESLint.Plugin;
let tableOptions: (root: string) => BoundaryOptions;

/** Loads the rule and the table (the rule loads TypeScript: slow on a busy machine). */
async function load(this: Mocha.Context): Promise<void> {
  this.timeout(30_000);
  plugin = ((await import(path.join(ROOT, 'eslint-rules/import-boundaries.js'))) as RuleModule).default;
  tableOptions = ((await import(path.join(ROOT, 'eslint-rules/boundaries.js'))) as BoundariesModule).importBoundaryOptions;
}

/** The rule's messages for `code` linted as the file `file` (relative to `root`). */
function lint(file: string, code: string, root = ROOT): string[] {
  const config: Linter.Config[] = [{
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { vifd: plugin },
    rules: { 'vifd/import-boundaries': ['error', tableOptions(root)] },
  }];
  const messages = new Linter({ configType: 'flat', cwd: root }).verify(code, config, { filename: path.join(root, file) });
  const fatal = messages.find((message) => message.fatal === true);
  assert.equal(fatal, undefined, fatal?.message);
  return messages.map((message) => message.message);
}

const allowed = (file: string, code: string): void => assert.deepEqual(lint(file, code), []);

function refused(file: string, code: string, pattern: RegExp): void {
  const messages = lint(file, code);
  assert.equal(messages.length, 1, `expected one violation, got: ${JSON.stringify(messages)}`);
  assert.match(messages[0]!, pattern);
}

describe('lint/import-boundaries: which folder of src/ may import which', () => {
  before(load);

  it('lets the model import only the model, common and pure packages', () => {
    allowed('src/model/intent.ts', "import { a } from './mac.js';\nimport { b } from '../common/errors.js';\nimport { createHash } from 'node:crypto';");
    refused('src/model/intent.ts', "import { Engine } from '../engine/engine.js';", /^src\/model may import only src\/model, src\/common \(the model is pure.*'\.\.\/engine\/engine\.js' is src\/engine\/engine\.js$/);
    refused('src/model/intent.ts', "import type { TapState } from '../host/tap.js';", /src\/model may import only/);
    refused('src/model/sriov/pci.ts', "import { VfSnapshot } from '../../sources/xapi/records.js';", /'\.\.\/\.\.\/sources\/xapi\/records\.js' is src\/sources\/xapi\/records\.js/);
    refused('src/model/intent.ts', "import { readFile } from 'node:fs/promises';", /^src\/model must not import the package 'node:fs\/promises'/);
    refused('src/model/intent.ts', "import koffi from 'koffi';", /must not import the package 'koffi'/);
  });

  it('keeps common at the bottom and the libvirt binding free of vifd', () => {
    refused('src/common/backoff.ts', "import { VifdError } from '../model/errors.js';", /^src\/common may import only src\/common /);
    allowed('src/libvirt/connection.ts', "import { Backoff } from '../common/backoff.js';\nimport koffi from 'koffi';");
    refused('src/libvirt/errors.ts', "import { VifdError } from '../model/errors.js';", /^src\/libvirt may import only src\/libvirt, src\/common \(the libvirt binding knows nothing of vifd\)/);
  });

  it('lets a kind use host effectors but never the engine, a source, the daemon, the API, the CLI or libvirt', () => {
    allowed('src/kinds/tap-ovs/observe.ts', "import { a } from '../../host/tap.js';\nimport { b } from '../../model/intent.js';\nimport { c } from '../sriov-vf/diff.js';");
    for (const folder of ['engine', 'sources', 'daemon', 'api', 'cli', 'libvirt', 'xapi']) {
      refused('src/kinds/tap-ovs/observe.ts', `import { x } from '../../${folder}/x.js';`, /^src\/kinds may import only src\/kinds, src\/host, src\/model, src\/common /);
    }
  });

  it('lets each source reach its own client only, and never the engine or the kinds', () => {
    allowed('src/sources/libvirt/source.ts', "import { a } from '../../libvirt/connection.js';\nimport { b } from '../common.js';");
    allowed('src/sources/xapi/source.ts', "import { a } from '../../xapi/client.js';");
    refused('src/sources/xapi/source.ts', "import { a } from '../../libvirt/connection.js';", /^src\/sources\/xapi may import only src\/sources, src\/model, src\/common, src\/xapi /);
    refused('src/sources/xen-hotplug/bridge.ts', "import { a } from '../../xapi/client.js';", /^src\/sources may import only src\/sources, src\/model, src\/common /);
    for (const folder of ['engine', 'kinds', 'daemon', 'api', 'cli', 'host']) {
      refused('src/sources/libvirt/source.ts', `import { x } from '../../${folder}/x.js';`, /^src\/sources\/libvirt may import only /);
    }
  });

  it('keeps the engine to intents, plans and kinds: no source, no libvirt, no host effector', () => {
    allowed('src/engine/engine.ts', "import { a } from '../kinds/tap-ovs/index.js';\nimport { b } from '../model/plan.js';\nimport PQueue from 'p-queue';");
    for (const target of ['../sources/libvirt/source.js', '../libvirt/connection.js', '../host/tap.js', '../xapi/client.js', '../daemon/daemon.js']) {
      refused('src/engine/engine.ts', `import { x } from '${target}';`, /^src\/engine may import only src\/engine, src\/kinds, src\/model, src\/common /);
    }
  });

  it('lets the daemon, the API and the CLI use all of src, and nothing outside it', () => {
    allowed('src/daemon/daemon.ts', "import { a } from '../engine/engine.js';\nimport { b } from '../libvirt/connection.js';\nimport { c } from '../sources/libvirt/source.js';");
    refused('src/daemon/daemon.ts', "import { a } from '../../test/harness/ovs.js';", /'\.\.\/\.\.\/test\/harness\/ovs\.js' is test\/harness\/ovs\.js$/);
  });

  it('checks every form of import: re-exports, dynamic imports and import types', () => {
    refused('src/model/index.ts', "export { Engine } from '../engine/engine.js';", /src\/model may import only/);
    refused('src/model/index.ts', "export * from '../engine/engine.js';", /src\/model may import only/);
    refused('src/model/index.ts', "export async function load() { return import('../engine/engine.js'); }", /src\/model may import only/);
    refused('src/model/index.ts', "export let engine: import('../engine/engine.js').Engine | null = null;", /src\/model may import only/);
  });

  it('fails a file of src/ whose folder the table does not name, and leaves other trees alone', () => {
    refused('src/newthing/x.ts', 'export const x = 1;', /^src\/newthing\/x\.ts lies in no folder of the import-boundaries table/);
    allowed('bench/x.bench.ts', "import { a } from '../src/engine/engine.js';\nimport { b } from '../src/libvirt/connection.js';");
    allowed('test/unit/x.test.ts', "import { a } from '../../src/host/tap.js';");
  });
});

describe('lint/import-boundaries: the hook programs never load libvirt', () => {
  before(load);

  it('refuses libvirt, the libvirt source and koffi in the hook files themselves, type-only imports aside', () => {
    for (const program of ['src/cli/hook.ts', 'src/cli/xen-hook.ts']) {
      refused(program, "import { LibvirtConnection } from '../libvirt/connection.js';", /^src\/cli\/(xen-)?hook\.ts must never load src\/libvirt\/connection\.js \(the hook program never loads libvirt/);
      refused(program, "import { LibvirtSource } from '../sources/libvirt/source.js';", /must never load src\/sources\/libvirt\/source\.js/);
      refused(program, "import koffi from 'koffi';", /must never load the package 'koffi'/);
      refused(program, "export async function f() { await import('../libvirt/events.js'); }", /must never load src\/libvirt\/events\.js/);
      allowed(program, "import type { DomainEvent } from '../libvirt/events.js';\nexport type Event = DomainEvent;");
    }
  });

  it('follows the runtime import graph to libvirt and names the files in between', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'vifd-lint-'));
    const write = (file: string, code: string): void => {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), code);
    };
    try {
      write('src/api/client.ts', "import { wire } from '../daemon/wiring.js';\nexport const call = wire;");
      write('src/daemon/wiring.ts', "import type { Kind } from '../kinds/kind.js';\nimport { LibvirtConnection } from '../libvirt/connection.js';\nexport const wire = 1;");
      write('src/kinds/kind.ts', "import koffi from 'koffi';\nexport type Kind = string;");
      write('src/libvirt/connection.ts', 'export class LibvirtConnection {}');
      write('src/cli/clean.ts', "import type { wire } from '../daemon/wiring.js';\nexport const ok = 1;");
      const messages = lint('src/cli/hook.ts', "import { call } from '../api/client.js';\nimport { ok } from './clean.js';", root);
      assert.deepEqual(messages.filter((message) => message.includes('must never load')), [
        'src/cli/hook.ts must never load src/libvirt/connection.ts (the hook program never loads libvirt: libvirtd waits for the hook and a call back into it would deadlock)' +
        ' through src/api/client.ts -> src/daemon/wiring.ts',
      ]);
      write('src/daemon/wiring.ts', "import { Kind } from '../kinds/kind.js';\nexport const wire = 1;");
      assert.deepEqual(lint('src/cli/hook.ts', "import { call } from '../api/client.js';", root).filter((message) => message.includes('must never load')), [
        "src/cli/hook.ts must never load the package 'koffi' (the hook program never loads libvirt: libvirtd waits for the hook and a call back into it would deadlock)" +
        ' through src/api/client.ts -> src/daemon/wiring.ts -> src/kinds/kind.ts',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
