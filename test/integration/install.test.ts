// scripts/install.sh into a throwaway DESTDIR, as a packager would run it: the
// layout and modes, filled-in placeholders, a unit file systemd accepts, the
// hook's fast path, the example config installed beside (never as) the live
// one, a second run that changes nothing, and uninstall.
// The cases run in order: each builds on the tree the previous one left.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, appendFileSync, constants, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_CONFIG as PACKAGE_EXAMPLE } from '../../src/cli/vifd-config.js';
import { parseConfigText } from '../../src/config/schema.js';

const INSTALL = 'scripts/install.sh';
const LIB = '/usr/local/lib/vifd';
const BIN = '/usr/local/bin';
const HOOK = '/etc/libvirt/hooks/qemu.d/vifd';
const XEN_HOOK = '/etc/xen/scripts/vif-vifd';
const UNIT = '/etc/systemd/system/vifd.service';
const CONFIG = '/etc/vifd/vifd.yaml';
const EXAMPLE = '/usr/local/share/doc/vifd/examples/vifd.yaml.example';
const EX_CONFIG = 78;
const DOMAIN_XML = readFileSync('test/fixtures/domains/web1.xml', 'utf8');
const PLACEHOLDER = /@[A-Z_]+@/;
const MISSING_NODE = '/nonexistent/vifd-test/node';

interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly error: Error | undefined;
}

function run(argv: readonly string[], input?: string, timeoutMs = 60_000): Result {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('run: empty argv');
  // A DESTDIR in the caller's environment would redirect the script's default.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'DESTDIR'));
  const result = spawnSync(command, args, { input, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, error: result.error };
}

function runOk(argv: readonly string[], timeoutMs?: number): Result {
  const result = run(argv, undefined, timeoutMs);
  assert.equal(result.status, 0, `${argv.join(' ')} exited ${String(result.status)}: ${result.stderr}${result.error?.message ?? ''}`);
  return result;
}

/** The node install.sh records: the first one in PATH, as `command -v` finds it. */
function nodeInPath(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir || '.', 'node');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  throw new Error('node is not in PATH');
}

const mode = (path: string): number => statSync(path).mode & 0o7777;

/** Every entry below root: relative path -> type, mode and content hash or link target. */
function snapshot(root: string): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (relative: string): void => {
    const path = join(root, relative);
    const stat = lstatSync(path);
    const perms = (stat.mode & 0o7777).toString(8);
    if (stat.isSymbolicLink()) entries.set(relative, `link ${readlinkSync(path)}`);
    else if (stat.isDirectory()) {
      if (relative !== '') entries.set(relative, `dir ${perms}`);
      for (const name of readdirSync(path)) walk(join(relative, name));
    } else entries.set(relative, `file ${perms} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
  };
  walk('');
  return entries;
}

const filesUnder = (root: string): string[] =>
  [...snapshot(root)].filter(([, kind]) => !kind.startsWith('dir ')).map(([path]) => path).sort();

/**
 * `systemd-analyze verify` checks the unit as systemd would load it (unknown
 * keys, unparsable values, a missing or non-executable ExecStart binary). The
 * unit names its binary as installed (/usr/local/bin/vifd), which lives under
 * DESTDIR here, so a copy with only that path prefixed by DESTDIR is verified.
 * Unknown keys and bad values are warnings that keep exit status 0, so any
 * line that names the unit fails the check as well.
 */
function verifyUnit(unitText: string, destdir: string, scratch: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(scratch, 'verify-'));
  const path = join(dir, 'vifd.service');
  writeFileSync(path, unitText.replace(/^ExecStart=\//m, `ExecStart=${destdir}/`));
  const result = run(['systemd-analyze', 'verify', '--man=no', '--recursive-errors=no', path]);
  if (result.error !== undefined) throw new Error(`systemd-analyze (Debian package systemd): ${result.error.message}`);
  const output = `${result.stdout}${result.stderr}`.trim();
  const aboutUs = output.split('\n').filter((line) => line.includes('vifd.service'));
  return { ok: result.status === 0 && aboutUs.length === 0, output };
}

describe('integration: scripts/install.sh', function () {
  this.timeout(600_000);
  let destdir: string;
  let scratch: string;
  let node: string;
  let firstRun: Result;
  const at = (path: string): string => join(destdir, path);

  before(() => {
    destdir = mkdtempSync(join(tmpdir(), 'vifd-test-install-'));
    scratch = mkdtempSync(join(tmpdir(), 'vifd-test-install-scratch-'));
    node = nodeInPath();
    firstRun = runOk([INSTALL, '--destdir', destdir], 300_000);
  });
  after(() => {
    rmSync(destdir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('installs the layout with the right modes', () => {
    for (const entry of ['vifd', 'vifctl', 'hook', 'xen-hook']) assert.ok(existsSync(at(`${LIB}/dist/src/cli/${entry}.js`)), entry);
    assert.ok(existsSync(at(`${LIB}/xml-templates/tap-ethernet.xml`)));
    assert.deepEqual(readdirSync(at(`${LIB}/dist`)), ['src'], 'only dist/src, not tests or benchmarks');
    assert.equal(readFileSync(at(`${LIB}/package-lock.json`), 'utf8'), readFileSync('package-lock.json', 'utf8'));
    for (const dependency of ['koffi', 'yaml', 'fast-xml-parser', 'winston', 'p-queue']) {
      assert.ok(existsSync(at(`${LIB}/node_modules/${dependency}/package.json`)), dependency);
    }
    for (const devDependency of ['mocha', 'typescript', 'eslint']) {
      assert.equal(existsSync(at(`${LIB}/node_modules/${devDependency}`)), false, `${devDependency} is a dev dependency`);
    }
    assert.equal(mode(at(`${BIN}/vifd`)), 0o755);
    assert.equal(mode(at(`${BIN}/vifctl`)), 0o755);
    assert.equal(mode(at(HOOK)), 0o755);
    assert.equal(mode(at(XEN_HOOK)), 0o755);
    assert.equal(mode(at(UNIT)), 0o644);
    assert.equal(mode(at(EXAMPLE)), 0o644);
  });

  it('fills in every placeholder with install-time paths', () => {
    for (const path of [HOOK, XEN_HOOK, UNIT, `${BIN}/vifd`, `${BIN}/vifctl`]) {
      const text = readFileSync(at(path), 'utf8');
      assert.doesNotMatch(text, PLACEHOLDER, path);
      assert.equal(text.includes(destdir), false, `${path} must name final paths, not DESTDIR`);
    }
    assert.match(readFileSync(at(UNIT), 'utf8'), /^ExecStart=\/usr\/local\/bin\/vifd --config \/etc\/vifd\/vifd\.yaml$/m);
    assert.ok(readFileSync(at(HOOK), 'utf8').includes(`exec "${node}" "${LIB}/dist/src/cli/hook.js" qemu "$@"`));
    // The Xen script as xl, libvirt-libxl and xenopsd run it: argv straight through to xen-hook.js.
    assert.ok(readFileSync(at(XEN_HOOK), 'utf8').includes(`exec "${node}" "${LIB}/dist/src/cli/xen-hook.js" "$@"`));
    assert.ok(readFileSync(at(XEN_HOOK), 'utf8').startsWith('#!/bin/sh\n'));
    assert.ok(readFileSync(at(`${BIN}/vifd`), 'utf8').includes(`exec "${node}" "${LIB}/dist/src/cli/vifd.js" "$@"`));
    assert.ok(readFileSync(at(`${BIN}/vifctl`), 'utf8').includes(`exec "${node}" "${LIB}/dist/src/cli/vifctl.js" "$@"`));
  });

  it('installs a unit file that systemd-analyze verify accepts, and the check can fail', () => {
    const unit = readFileSync(at(UNIT), 'utf8');
    const verdict = verifyUnit(unit, destdir, scratch);
    assert.ok(verdict.ok, verdict.output);
    const typo = verifyUnit(unit.replace(/^NoNewPrivileges=/m, 'NoNewPrivilege='), destdir, scratch);
    assert.equal(typo.ok, false, 'a misspelled key must fail the check');
    const badValue = verifyUnit(unit.replace(/^Restart=.*$/m, 'Restart=sometimes'), destdir, scratch);
    assert.equal(badValue.ok, false, 'an unparsable value must fail the check');
    const template = verifyUnit(readFileSync('systemd/vifd.service', 'utf8'), destdir, scratch);
    assert.equal(template.ok, false, 'the unsubstituted template must fail the check');
  });

  it('hook: ignored events drain stdin and exit 0 without starting node', () => {
    const hook = join(scratch, 'hook-without-node');
    writeFileSync(hook, readFileSync(at(HOOK), 'utf8').replaceAll(`"${node}"`, `"${MISSING_NODE}"`), { mode: 0o755 });
    // Far more than a pipe buffer: a hook that does not read it gets EPIPE here.
    const bigXml = DOMAIN_XML.padEnd(1 << 20, ' ');
    for (const op of ['start', 'started', 'stopped', 'reconnect', 'attach', 'restore']) {
      const result = run([hook, 'web1', op, 'begin', '-'], bigXml);
      assert.equal(result.error, undefined, `${op}: ${result.error?.message ?? ''}`);
      assert.equal(result.status, 0, `${op}: ${result.stderr}`);
      assert.equal(result.stdout, '');
    }
    for (const op of ['prepare', 'release', 'migrate']) {
      const result = run([hook, 'web1', op, 'begin', '-'], DOMAIN_XML);
      assert.notEqual(result.status, 0, `${op} must try to run node`);
      assert.ok(result.stderr.includes(MISSING_NODE), `${op}: ${result.stderr}`);
    }
  });

  it('hook: acted-on events reach hook.js with argv and stdin intact', () => {
    const fakeNode = join(scratch, 'fake-node');
    writeFileSync(fakeNode, '#!/bin/sh\nprintf "[%s]\\n" "$@"\ncat\n', { mode: 0o755 });
    const hook = join(scratch, 'hook-with-fake-node');
    writeFileSync(hook, readFileSync(at(HOOK), 'utf8').replaceAll(`"${node}"`, `"${fakeNode}"`), { mode: 0o755 });
    const witness = join(scratch, 'evaluated');
    const name = `web 1 $(touch ${witness}) \`touch ${witness}\` ;*`;
    const result = run([hook, name, 'prepare', 'begin', '-'], DOMAIN_XML);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(existsSync(witness), false, 'the domain name was evaluated by a shell');
    const argv = [`${LIB}/dist/src/cli/hook.js`, 'qemu', name, 'prepare', 'begin', '-'];
    assert.equal(result.stdout, `${argv.map((arg) => `[${arg}]\n`).join('')}${DOMAIN_XML}`);
  });

  it('installs the example beside the live config, never as it, and says where', () => {
    assert.equal(existsSync(at(CONFIG)), false, `${CONFIG} must not be installed: it would name bridges this host may not have`);
    assert.equal(existsSync(at('/etc/vifd')), false);
    assert.equal(readFileSync(at(EXAMPLE), 'utf8'), readFileSync('systemd/vifd.yaml.example', 'utf8'));
    assert.ok(parseConfigText(readFileSync(at(EXAMPLE), 'utf8'), EXAMPLE).networks.size >= 2);
    assert.ok(firstRun.stdout.includes(`copy the example ${EXAMPLE} there`), firstRun.stdout);
    assert.ok(firstRun.stdout.includes(`vifd --check-config ${CONFIG}`), firstRun.stdout);
  });

  it('the installed tree runs on production dependencies: vifd refuses without a config and names the example', () => {
    // Resolved from the installed file, node finds only the installed node_modules.
    const refused = run(['node', at(`${LIB}/dist/src/cli/vifd.js`), '--config', at(CONFIG)]);
    assert.equal(refused.status, EX_CONFIG, `${refused.stdout}${refused.stderr}`);
    // The package's example is named first where the package is installed; otherwise make install's.
    const example = existsSync(PACKAGE_EXAMPLE) ? PACKAGE_EXAMPLE : at(EXAMPLE);
    assert.ok(refused.stderr.includes(`vifd: no config file ${at(CONFIG)}: copy the example ${example} there`), refused.stderr);
    const check = run(['node', at(`${LIB}/dist/src/cli/vifd.js`), '--check-config', at(EXAMPLE)]);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    assert.ok(check.stdout.startsWith(`${at(EXAMPLE)}: valid: `), check.stdout);
    const plan = run(['node', at(`${LIB}/dist/src/cli/vifctl.js`), 'plan', 'test/fixtures/domains/web1.xml', '--config', at(EXAMPLE)]);
    assert.equal(plan.status, 0, `${plan.stdout}${plan.stderr}`);
    assert.match(plan.stdout, /^VM "web1" /);
  });

  it('changes nothing on a second run and keeps the operator\'s config', () => {
    mkdirSync(at('/etc/vifd'));
    copyFileSync(at(EXAMPLE), at(CONFIG));
    appendFileSync(at(CONFIG), '# edited by the operator\n');
    const before = snapshot(destdir);
    const second = runOk([INSTALL, '--destdir', destdir], 300_000);
    assert.deepEqual(snapshot(destdir), before);
    assert.match(second.stdout, /kept +\S+\/etc\/vifd\/vifd\.yaml/);
    assert.doesNotMatch(second.stdout, /no config installed/);
    assert.ok(readFileSync(at(CONFIG), 'utf8').endsWith('# edited by the operator\n'));
  });

  it('uninstalls everything but the config, and uninstalling twice succeeds', () => {
    runOk([INSTALL, '--destdir', destdir, '--uninstall']);
    assert.deepEqual(filesUnder(destdir), [CONFIG.slice(1)]);
    assert.equal(existsSync(at(XEN_HOOK)), false, 'the Xen hotplug script goes too');
    assert.equal(existsSync(at(LIB)), false);
    assert.equal(existsSync(at('/usr/local/share/doc/vifd')), false, 'the example and its directories go too');
    runOk([INSTALL, '--destdir', destdir, '--uninstall']);
    assert.deepEqual(filesUnder(destdir), [CONFIG.slice(1)]);
  });

  it('refuses to install before a build, saying what to run', () => {
    const checkout = join(scratch, 'unbuilt');
    mkdirSync(join(checkout, 'scripts'), { recursive: true });
    copyFileSync(INSTALL, join(checkout, INSTALL));
    const result = run(['bash', join(checkout, INSTALL), '--destdir', join(scratch, 'unused')]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /dist\/src\/cli\/vifd\.js is missing: run make build first/);
    assert.equal(existsSync(join(scratch, 'unused')), false);
  });
});
