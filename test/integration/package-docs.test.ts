// The man pages (man/) and the bash completion (completion/vifctl.bash) the
// package installs: each page renders with groff and man without a warning,
// and documents what the code has today (every vifctl command and exit code,
// every config field the schema accepts); the completion offers exactly the
// commands and options vifctl's own usage lines list.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { validateConfig } from '../../src/config/schema.js';
import { requireDebianTools } from '../harness/debian-packages.js';
import { run, tryRun } from '../harness/exec.js';
import type { RunResult } from '../harness/exec.js';

const PAGES = ['man/vifd.8', 'man/vifctl.8', 'man/vifd.yaml.5'];
const COMPLETION = resolve('completion/vifctl.bash');
const vifctl = (args: readonly string[]): Promise<RunResult> => tryRun(['node', 'dist/src/cli/vifctl.js', ...args]);

/** groff's warnings (all of them: -ww) for a page; empty when it is clean. */
async function groffWarnings(page: string): Promise<string> {
  const result = await tryRun(['env', 'LC_ALL=C.UTF-8', 'groff', '-man', '-Tutf8', '-ww', '-z', page]);
  return `${result.code === 0 ? '' : `exit ${String(result.code)}\n`}${result.stderr}`;
}

/** The commands `vifctl --help` lists, and the long options of each one's usage line. */
async function vifctlCommands(): Promise<Map<string, string[]>> {
  const help = await vifctl(['--help']);
  assert.equal(help.code, 0, help.stderr);
  const names = [...help.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((match) => match[1]!);
  assert.ok(names.length >= 7, help.stdout);
  const commands = new Map<string, string[]>();
  for (const name of names) {
    // An unknown option is a usage error, which prints the command's own usage line.
    const usage = await vifctl([name, '--no-such-option']);
    assert.equal(usage.code, 2, `${name}: ${usage.stderr}`);
    const line = /^usage: vifctl .*$/m.exec(usage.stderr)?.[0] ?? '';
    commands.set(name, [...new Set(line.match(/--[a-z-]+/g) ?? [])].sort());
  }
  return commands;
}

const BASH_COMPLETION = '/usr/share/bash-completion/bash_completion';

/**
 * What the completion function offers for the words typed so far (the last one
 * being completed): in a plain bash, or, with `withFramework`, after Debian's
 * bash-completion is loaded as an interactive shell has it (_init_completion).
 */
async function complete(words: readonly string[], cwd?: string, withFramework = false): Promise<string[]> {
  const script = [
    ...(withFramework ? [`source ${BASH_COMPLETION}`, 'declare -F _init_completion >/dev/null || exit 3'] : []),
    'source "$1"; shift',
    'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}',
    '_vifctl vifctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const argv = ['bash', '--noprofile', '--norc', '-c', script, 'bash', COMPLETION, ...words];
  const output = cwd === undefined ? await run(argv) : await run(['env', '-C', cwd, ...argv]);
  return output.split('\n').filter((line) => line !== '').sort();
}

/** The config fields the schema accepts, from its own "unknown key (known: ...)" errors. */
function configFields(): string[] {
  const known = (raw: unknown): string[] => {
    try {
      validateConfig(raw);
    } catch (error) {
      const list = /\(known: ([^)]*)\)/.exec((error as Error).message)?.[1];
      if (list !== undefined) return list.split(', ');
      throw error;
    }
    throw new Error(`accepted an unknown key: ${JSON.stringify(raw)}`);
  };
  const isMapping = (key: string): boolean => {
    try {
      validateConfig({ [key]: 'not a mapping' });
      return false;
    } catch (error) {
      return /expected a mapping/.test((error as Error).message);
    }
  };
  const fields: string[] = [];
  for (const key of known({ 'no-such-key': 1 })) {
    if (key === 'networks') {
      fields.push('networks', ...known({ networks: { n: { bridge: 'br0', 'no-such-key': 1 } } }));
    } else if (isMapping(key)) {
      fields.push(...known({ [key]: { 'no-such-key': 1 } }).map((sub) => `${key}.${sub}`));
    } else {
      fields.push(key);
    }
  }
  return fields;
}

describe('integration: man pages and bash completion', function () {
  this.timeout(120_000);
  let commands: Map<string, string[]>;
  let scratch = '';

  before(async function () {
    await requireDebianTools(this, [
      { command: 'groff', debianPackage: 'groff-base' },
      { command: 'man', debianPackage: 'man-db' },
      { command: 'bash', debianPackage: 'bash' },
      { debianPackage: 'bash-completion' },
    ]);
    scratch = mkdtempSync(join(tmpdir(), 'vifd-test-docs-'));
    commands = await vifctlCommands();
  });
  after(() => {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it('each page renders with groff -ww and man -l without a warning, and the check can fail', async () => {
    for (const page of PAGES) {
      assert.equal(await groffWarnings(page), '', page);
      const rendered = await tryRun(['env', 'MANWIDTH=80', 'LC_ALL=C.UTF-8', 'man', '--warnings=w', '-l', '-P', 'cat', page]);
      assert.equal(rendered.code, 0, `${page}: ${rendered.stderr}`);
      assert.equal(rendered.stderr, '', page);
      assert.match(rendered.stdout, /^NAME\n/m, page);
    }
    const broken = join(scratch, 'broken.8');
    writeFileSync(broken, `${readFileSync('man/vifd.8', 'utf8')}.XX not a macro\n\\fQbad font\n`);
    assert.notEqual(await groffWarnings(broken), '', 'an unknown macro must warn');
  });

  it('vifctl(8) documents every command vifctl has and every exit code', () => {
    const page = readFileSync('man/vifctl.8', 'utf8');
    for (const [name, options] of commands) {
      assert.match(page, new RegExp(`^\\.B vifctl ${name}$`, 'm'), `synopsis of ${name}`);
      for (const option of options) assert.ok(page.includes(option.replaceAll('-', '\\-')), `${name} ${option}`);
    }
    for (const code of ['0', '1', '2', '3']) assert.match(page, new RegExp(`^\\.SH EXIT STATUS[\\s\\S]*^\\.B ${code}$`, 'm'), `exit ${code}`);
  });

  it('vifd(8) documents its options and exit codes', async () => {
    const page = readFileSync('man/vifd.8', 'utf8');
    const usage = await tryRun(['node', 'dist/src/cli/vifd.js', '--no-such-option']);
    assert.equal(usage.code, 64, usage.stderr);
    for (const option of usage.stderr.match(/--[a-z-]+/g)!.filter((option) => option !== '--no-such-option')) {
      assert.ok(page.includes(option.replaceAll('-', '\\-')), option);
    }
    const badConfig = join(scratch, 'bad.yaml');
    writeFileSync(badConfig, 'no_such_field: 1\n');
    const refused = await tryRun(['node', 'dist/src/cli/vifd.js', '--config', badConfig]);
    assert.equal(refused.code, 78, refused.stderr);
    for (const code of ['0', '1', '64', '78']) assert.match(page, new RegExp(`^\\.SH EXIT STATUS[\\s\\S]*^\\.B ${code}$`, 'm'), `exit ${code}`);
  });

  it('vifd.yaml(5) documents every field the config schema accepts', () => {
    const page = readFileSync('man/vifd.yaml.5', 'utf8');
    const fields = configFields();
    assert.ok(fields.includes('vif_limit.max') && fields.includes('vlan_mode'), fields.join(' '));
    for (const field of fields) assert.match(page, new RegExp(`^\\.B ${field.replaceAll('.', '\\.')}$`, 'm'), field);
  });

  it('completes the commands vifctl --help lists, and each command\'s options', async () => {
    assert.deepEqual(await complete(['vifctl', '']), [...commands.keys(), '--help'].sort());
    assert.deepEqual(await complete(['vifctl', 'de']), ['define', 'detach']);
    for (const [name, options] of commands) {
      assert.deepEqual(await complete(['vifctl', name, '--']), options, name);
    }
    assert.deepEqual(await complete(['vifctl', 'gc', '--d']), ['--dry-run']);
  });

  it('completes the same under Debian\'s bash-completion framework', async () => {
    assert.deepEqual(await complete(['vifctl', ''], undefined, true), [...commands.keys(), '--help'].sort());
    assert.deepEqual(await complete(['vifctl', 'detach', 'web1', '--'], undefined, true), commands.get('detach'));
    const dir = mkdtempSync(join(scratch, 'framework-'));
    writeFileSync(join(dir, 'db1.xml'), '');
    writeFileSync(join(dir, 'db1.txt'), '');
    assert.deepEqual(await complete(['vifctl', 'define', 'd'], dir, true), ['db1.xml']);
  });

  it('completes domain XML files for plan and define, and nothing after an option that takes a value', async () => {
    const dir = mkdtempSync(join(scratch, 'plain-'));
    writeFileSync(join(dir, 'web1.xml'), '');
    writeFileSync(join(dir, 'notes.txt'), '');
    mkdirSync(join(dir, 'domains'));
    assert.deepEqual(await complete(['vifctl', 'plan', ''], dir), ['domains', 'web1.xml']);
    assert.deepEqual(await complete(['vifctl', 'define', 'w'], dir), ['web1.xml']);
    assert.deepEqual(await complete(['vifctl', 'attach', 'web1', '--network', '']), []);
  });
});
