// What eslint.config.js and eslint.layout.config.js apply, and where: the size
// limits and the folder rules on the code, the formatter keeping the code's style.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

interface RuleSettings { severity: unknown; options: unknown[] }

async function rulesFor(file: string): Promise<Record<string, RuleSettings | undefined>> {
  const config = await new ESLint({ cwd: ROOT }).calculateConfigForFile(path.join(ROOT, file)) as { rules: Record<string, unknown[]> };
  return Object.fromEntries(Object.entries(config.rules).map(([name, [severity, ...options]]) => [name, { severity, options }]));
}

/** `code` as `make fmt` leaves it (the layout config alone, fixes applied). */
async function formatted(code: string): Promise<string> {
  const eslint = new ESLint({ cwd: ROOT, overrideConfigFile: path.join(ROOT, 'eslint.layout.config.js'), fix: true });
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, 'src/model/formatted.ts') });
  assert.ok(result);
  assert.deepEqual(result.messages, [], 'every layout problem here is fixable');
  return result.output ?? code;
}

describe('lint/config: the rules apply where they should', function () {
  this.timeout(20_000);

  it('limits files to 400 lines and functions to 60 in src, bench and lab, blank lines and comments aside', async () => {
    for (const file of ['src/engine/engine.ts', 'bench/restart.bench.ts', 'lab/lab.ts']) {
      const rules = await rulesFor(file);
      assert.deepEqual(rules['max-lines'], { severity: 2, options: [{ max: 400, skipBlankLines: true, skipComments: true }] }, file);
      assert.deepEqual(rules['max-lines-per-function'], { severity: 2, options: [{ max: 60, skipBlankLines: true, skipComments: true, IIFEs: true }] }, file);
    }
  });

  it('leaves test files out of the size limits (mocha describe blocks are long by nature)', async () => {
    const rules = await rulesFor('test/unit/lint/config.test.ts');
    assert.equal(rules['max-lines-per-function'], undefined);
    assert.equal(rules['max-lines'], undefined);
  });

  it('applies the folder rules to src only, with the table of eslint-rules/boundaries.js', async () => {
    const rule = (await rulesFor('src/model/mac.ts'))['vifd/import-boundaries'];
    assert.ok(rule);
    assert.equal(rule.severity, 2);
    assert.equal((rule.options[0] as { root: string }).root, ROOT.replace(/\/$/, ''));
    assert.equal((await rulesFor('bench/restart.bench.ts'))['vifd/import-boundaries'], undefined);
  });

  it('checks layout in make lint with the same rules make fmt applies', async () => {
    const lint = await rulesFor('src/model/mac.ts');
    const fmt = await new ESLint({ cwd: ROOT, overrideConfigFile: path.join(ROOT, 'eslint.layout.config.js') })
      .calculateConfigForFile(path.join(ROOT, 'src/model/mac.ts')) as { rules: Record<string, unknown[]> };
    const layout = Object.keys(fmt.rules).filter((name) => name.startsWith('@stylistic/'));
    assert.ok(layout.length > 20, `only ${String(layout.length)} layout rules`);
    for (const name of layout) assert.deepEqual([lint[name]?.severity, ...(lint[name]?.options ?? [])], fmt.rules[name], name);
  });
});

describe('lint/config: the formatter keeps the code\'s style', function () {
  this.timeout(20_000);

  it('fixes quotes, spacing, semicolons, trailing commas and blank lines', async () => {
    const before = 'const a = {b:"x",c: [1,2]}\n\n\nexport const list = [\n  a,\n  a\n];\nexport function f( x: number ) { return x+1 }\n';
    const after = "const a = { b: 'x', c: [1, 2] };\n\nexport const list = [\n  a,\n  a,\n];\nexport function f(x: number) { return x + 1; }\n";
    assert.equal(await formatted(before), after);
  });

  it('leaves long lines, one-line callbacks, stepped ternaries and operator positions as written', async () => {
    const code = [
      "export const described = (problem: string, wanted: number, seen: number): string => `${problem}: wanted ${String(wanted)}, seen ${String(seen)}; ` + 'repaired by the next reconcile of this VM';",
      'export function collect(stream: NodeJS.ReadableStream): string[] {',
      '  const chunks: string[] = [];',
      "  stream.on('data', (chunk: string) => { chunks.push(chunk); });",
      '  return chunks;',
      '}',
      "export const kind = (n: number): string => n < 0 ? 'negative'",
      "  : n === 0 ? 'zero'",
      "    : 'positive';",
      'export const both = (a: boolean, b: boolean): boolean => a',
      '  && b;',
      '',
    ].join('\n');
    assert.equal(await formatted(code), code);
  });
});
