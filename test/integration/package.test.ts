// scripts/build-deb.sh (make deb), built once for the suite: the control
// fields and file list as dpkg-deb reads them, byte-for-byte reproducibility,
// then a real dpkg install into a private root (dpkg --root, maintainer
// scripts run chrootless), the installed vifctl planning a fixture on the
// bundled node_modules, remove and purge. The cases run in order: each builds
// on the root the previous one left.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, tryRun } from '../harness/exec.js';
import type { RunResult } from '../harness/exec.js';
import { requireDebianTools } from '../harness/debian-packages.js';
import { requirePrerequisites } from '../harness/prereq.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const BUILD_TIMEOUT_MS = 300_000;
const EPOCH = '1767225600'; // any fixed time: two builds with it must agree
const LIB = '/usr/lib/vifd';
const HOOK_LINK = '/etc/libvirt/hooks/qemu.d/vifd';
const XEN_HOOK_LINK = '/etc/xen/scripts/vif-vifd';
const WANTS = '/etc/systemd/system/multi-user.target.wants/vifd.service';
const CONFIG = '/etc/vifd/vifd.yaml';

/** dpkg-deb's verdict on the parts of the package this suite reads. */
interface Listing {
  readonly control: Map<string, string>;
  /** path -> "mode owner/group size [-> target]" as dpkg-deb -c prints it. */
  readonly entries: Map<string, string>;
}

async function build(out: string): Promise<string> {
  await run(['env', `SOURCE_DATE_EPOCH=${EPOCH}`, 'scripts/build-deb.sh', '--out', out], { timeoutMs: BUILD_TIMEOUT_MS });
  const debs = readdirSync(out).filter((name) => name.endsWith('.deb'));
  assert.equal(debs.length, 1, `one .deb in ${out}: ${debs.join(', ')}`);
  return join(out, debs[0]!);
}

async function listing(deb: string): Promise<Listing> {
  const control = new Map<string, string>();
  for (const line of (await run(['dpkg-deb', '-f', deb])).split('\n')) {
    const match = /^([A-Za-z-]+): (.*)$/.exec(line);
    if (match !== null) control.set(match[1]!, match[2]!);
  }
  const entries = new Map<string, string>();
  for (const line of (await run(['dpkg-deb', '-c', deb])).trim().split('\n')) {
    // drwxr-xr-x root/root 0 2026-01-01 00:00 ./usr/ [-> target]
    const match = /^(\S+) (\S+) +(\d+) \S+ \S+ \.(\/\S*?)\/?( -> \S+)?$/.exec(line);
    assert.ok(match !== null, `unexpected dpkg-deb -c line: ${line}`);
    entries.set(match[4] === '/' ? '/' : match[4]!, `${match[1]!} ${match[2]!} ${match[3]!}${match[5] ?? ''}`);
  }
  return { control, entries };
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Every path below root, relative, with "/" for directories; dpkg's admin dir left out. */
function tree(root: string): string[] {
  const found: string[] = [];
  const walk = (relative: string): void => {
    for (const name of readdirSync(join(root, relative))) {
      const path = `${relative}/${name}`;
      if (path === '/var/lib/dpkg') continue;
      const isDir = lstatSync(join(root, path)).isDirectory();
      found.push(isDir ? `${path}/` : path);
      if (isDir) walk(path);
    }
  };
  walk('');
  return found.sort();
}

describe('integration: the Debian package (make deb)', function () {
  this.timeout(900_000);
  let scratch = '';
  let deb: string;
  let pkg: Listing;

  before(async function () {
    await requirePrerequisites(this, ['root']);
    await requireDebianTools(this, [
      { command: 'dpkg-deb', debianPackage: 'dpkg' },
      { command: 'systemctl', debianPackage: 'systemd' },
      { command: 'systemd-analyze', debianPackage: 'systemd' },
    ]);
    scratch = mkdtempSync(join(tmpdir(), 'vifd-test-deb-'));
    deb = await build(join(scratch, 'out'));
    pkg = await listing(deb);
  });
  after(() => {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it('has the control fields: version from package.json, the dependencies, maintainer scripts', async () => {
    assert.equal(pkg.control.get('Package'), 'vifd');
    assert.equal(pkg.control.get('Version'), VERSION);
    assert.equal(pkg.control.get('Architecture'), (await run(['dpkg', '--print-architecture'])).trim());
    const depends = pkg.control.get('Depends') ?? '';
    for (const dependency of ['nodejs (>= 20.19)', 'openvswitch-switch', 'libvirt0']) {
      assert.ok(depends.split(', ').includes(dependency), `Depends: ${depends}`);
    }
    assert.match(pkg.control.get('Installed-Size') ?? '', /^[1-9]\d*$/);
    const info = await run(['dpkg-deb', '-I', deb]);
    for (const script of ['postinst', 'prerm', 'postrm', 'md5sums']) assert.match(info, new RegExp(`\\s${script}\\s`), script);
    assert.doesNotMatch(info, /\sconffiles\s/, 'nothing regular in /etc, so no conffiles');
  });

  it('puts every file where Debian expects it, root-owned, with the right modes', () => {
    const expected: Record<string, RegExp> = {
      '/usr/sbin/vifd': /^-rwxr-xr-x root\/root /,
      '/usr/bin/vifctl': /^-rwxr-xr-x root\/root /,
      '/lib/systemd/system/vifd.service': /^-rw-r--r-- root\/root /,
      [`${LIB}/hooks/qemu`]: /^-rwxr-xr-x root\/root /,
      [HOOK_LINK]: new RegExp(`^lrwxrwxrwx root/root 0 -> ${LIB}/hooks/qemu$`),
      [`${LIB}/hooks/vif-vifd`]: /^-rwxr-xr-x root\/root /,
      [XEN_HOOK_LINK]: new RegExp(`^lrwxrwxrwx root/root 0 -> ${LIB}/hooks/vif-vifd$`),
      [`${LIB}/dist/src/cli/xen-hook.js`]: /^-rwxr-xr-x /,
      [`${LIB}/dist/src/cli/vifd.js`]: /^-rwxr-xr-x /,
      [`${LIB}/xml-templates/tap-ethernet.xml`]: /^-rw-r--r-- /,
      '/usr/share/man/man8/vifd.8.gz': /^-rw-r--r-- /,
      '/usr/share/man/man8/vifctl.8.gz': /^-rw-r--r-- /,
      '/usr/share/man/man5/vifd.yaml.5.gz': /^-rw-r--r-- /,
      '/usr/share/bash-completion/completions/vifctl': /^-rw-r--r-- /,
      '/usr/share/doc/vifd/examples/vifd.yaml.example': /^-rw-r--r-- /,
      '/usr/share/doc/vifd/copyright': /^-rw-r--r-- /,
      '/usr/share/doc/vifd/changelog.gz': /^-rw-r--r-- /,
    };
    for (const [path, pattern] of Object.entries(expected)) assert.match(pkg.entries.get(path) ?? '(absent)', pattern, path);
    for (const dependency of ['koffi', 'yaml', 'fast-xml-parser', 'winston', 'p-queue']) {
      assert.ok(pkg.entries.has(`${LIB}/node_modules/${dependency}/package.json`), `bundled ${dependency}`);
    }
    const paths = [...pkg.entries.keys()];
    for (const devOnly of ['mocha', 'typescript', 'eslint', 'sinon']) {
      assert.equal(pkg.entries.has(`${LIB}/node_modules/${devOnly}`), false, `${devOnly} is a dev dependency`);
    }
    assert.deepEqual(paths.filter((path) => path.startsWith('/etc/') && !pkg.entries.get(path)!.startsWith('d')).sort(), [HOOK_LINK, XEN_HOOK_LINK].sort(),
      'no live config (and nothing else regular) in /etc');
    assert.deepEqual(paths.filter((path) => /\/dist\/(test|bench|lab)\//.test(path)), [], 'only dist/src');
    assert.deepEqual([...pkg.entries.values()].filter((entry) => !entry.includes(' root/root ')), []);
  });

  it('is reproducible: a second build with the same SOURCE_DATE_EPOCH has the same bytes', async () => {
    const again = await build(join(scratch, 'again'));
    assert.equal(sha256(again), sha256(deb));
  });

  describe('installed with dpkg into a private root', () => {
    let root: string;
    const at = (path: string): string => join(root, path);
    const dpkg = (args: readonly string[]): Promise<RunResult> => tryRun(
      ['dpkg', `--root=${root}`, '--log=/dev/null', '--force-not-root', '--force-script-chrootless', ...args],
      { timeoutMs: 120_000 });
    const expectOk = (result: RunResult, what: string): void => assert.equal(result.code, 0, `${what}: ${result.stdout}${result.stderr}`);

    before(() => {
      root = join(scratch, 'root');
      for (const dir of ['info', 'updates', 'triggers']) mkdirSync(at(`/var/lib/dpkg/${dir}`), { recursive: true });
      writeFileSync(at('/var/lib/dpkg/status'), '');
      writeFileSync(at('/var/lib/dpkg/available'), '');
      mkdirSync(at('/run'));
      // The operator's config, written before the install as the Vagrant lab does.
      mkdirSync(at('/etc/vifd'), { recursive: true });
      writeFileSync(at(CONFIG), readFileSync('test/fixtures/vifd.yaml'));
    });

    it('installs; postinst enables the unit inside that root and nowhere else', async () => {
      const hostHadLink = existsSync(WANTS);
      // The dependencies are packages of the host, not of the empty private root.
      expectOk(await dpkg(['--force-depends', '-i', deb]), 'dpkg -i');
      const status = await run(['dpkg-query', `--admindir=${at('/var/lib/dpkg')}`, '-W', '-f', '${Status} ${Version}', 'vifd']);
      assert.equal(status, `install ok installed ${VERSION}`);
      assert.equal(readlinkSync(at(WANTS)), '/lib/systemd/system/vifd.service');
      assert.equal(existsSync(WANTS), hostHadLink, "the host's own systemd links are not touched");
      assert.equal(existsSync(LIB), false, 'nothing was installed into the host itself');
    });

    it('has the programs, hook and unit in place with install paths filled in', () => {
      assert.equal(readFileSync(at('/usr/sbin/vifd'), 'utf8'), `#!/bin/sh\nexec "/usr/bin/node" "${LIB}/dist/src/cli/vifd.js" "$@"\n`);
      assert.equal(readFileSync(at('/usr/bin/vifctl'), 'utf8'), `#!/bin/sh\nexec "/usr/bin/node" "${LIB}/dist/src/cli/vifctl.js" "$@"\n`);
      assert.equal(readlinkSync(at(HOOK_LINK)), `${LIB}/hooks/qemu`);
      const hook = readFileSync(at(`${LIB}/hooks/qemu`), 'utf8');
      assert.ok(hook.includes(`exec "/usr/bin/node" "${LIB}/dist/src/cli/hook.js" qemu "$@"`), hook);
      assert.equal(statSync(at(`${LIB}/hooks/qemu`)).mode & 0o777, 0o755);
      const unit = readFileSync(at('/lib/systemd/system/vifd.service'), 'utf8');
      assert.match(unit, /^ExecStart=\/usr\/sbin\/vifd --config \/etc\/vifd\/vifd\.yaml$/m);
      assert.equal(readlinkSync(at(XEN_HOOK_LINK)), `${LIB}/hooks/vif-vifd`);
      const xenHook = readFileSync(at(`${LIB}/hooks/vif-vifd`), 'utf8');
      assert.ok(xenHook.includes(`exec "/usr/bin/node" "${LIB}/dist/src/cli/xen-hook.js" "$@"`), xenHook);
      assert.equal(statSync(at(`${LIB}/hooks/vif-vifd`)).mode & 0o777, 0o755);
      for (const text of [hook, xenHook, unit]) assert.doesNotMatch(text, /@[A-Z_]+@/);
      // koffi's native binary for this platform only (Debian is glibc: no musl build).
      const koffi = at(`${LIB}/node_modules/@koromix/koffi-linux-${process.arch}`);
      assert.deepEqual(readdirSync(koffi).filter((name) => statSync(join(koffi, name)).isDirectory()), [`linux_${process.arch}`]);
      assert.equal(readFileSync(at(CONFIG), 'utf8'), readFileSync('test/fixtures/vifd.yaml', 'utf8'), 'the config is left alone');
    });

    it('has a unit that systemd-analyze verify accepts', async () => {
      // Verified as systemd would load it, its ExecStart pointed at the root's copy of /usr/sbin/vifd.
      const unit = readFileSync(at('/lib/systemd/system/vifd.service'), 'utf8');
      const copy = join(scratch, 'vifd.service');
      writeFileSync(copy, unit.replace(/^ExecStart=\//m, `ExecStart=${root}/`));
      const verdict = await tryRun(['systemd-analyze', 'verify', '--man=no', '--recursive-errors=no', copy]);
      const output = `${verdict.stdout}${verdict.stderr}`;
      assert.equal(verdict.code, 0, output);
      // Unknown keys and bad values are warnings that keep exit status 0.
      assert.deepEqual(output.split('\n').filter((line) => line.includes('vifd.service')), []);
      rmSync(copy);
    });

    it('runs the installed vifctl on the bundled node_modules', async () => {
      // The wrapper names node and the program by their final paths; the program is run from the root.
      const wrapper = /^exec "([^"]+)" "([^"]+)" "\$@"$/m.exec(readFileSync(at('/usr/bin/vifctl'), 'utf8'));
      assert.ok(wrapper !== null);
      const [, node, program] = wrapper;
      const vifctl = (args: readonly string[]): Promise<RunResult> => tryRun([node!, at(program!), ...args]);
      const help = await vifctl(['--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^usage: vifctl <command>/);
      const example = at('/usr/share/doc/vifd/examples/vifd.yaml.example');
      const plan = await vifctl(['plan', 'test/fixtures/domains/web1.xml', '--config', example]);
      assert.equal(plan.code, 0, `${plan.stdout}${plan.stderr}`);
      assert.match(plan.stdout, /^VM "web1" 6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b: 3 of 7 VIFs/);
      assert.match(plan.stdout, /vdu2vyz32zb-0 +52:54:00:a1:f6:ed +prod +br0 +access 100 +9000/);
      const refused = await vifctl(['plan', 'test/fixtures/domains/web1.xml', '--config', at('/nonexistent.yaml')]);
      assert.notEqual(refused.code, 0, 'the check can fail');
    });

    it('remove keeps the config and the enable link; purge leaves nothing but dpkg\'s admin dir', async () => {
      mkdirSync(at('/run/vifd'), { recursive: true });
      writeFileSync(at('/run/vifd/vifd.sock'), ''); // what a daemon that ran would leave
      expectOk(await dpkg(['-r', 'vifd']), 'dpkg -r');
      assert.deepEqual(tree(root).filter((path) => !path.endsWith('/')), [WANTS, CONFIG].sort(), 'after remove');
      assert.equal(existsSync(at('/run/vifd')), false, 'the runtime directory goes with the package');
      mkdirSync(at('/var/lib/vifd'), { recursive: true });
      writeFileSync(at('/var/lib/vifd/state.json'), '{}');
      expectOk(await dpkg(['-P', 'vifd']), 'dpkg -P');
      assert.deepEqual(tree(root), ['/run/', '/var/', '/var/lib/'], 'after purge: only what the root had before');
      const status = await tryRun(['dpkg-query', `--admindir=${at('/var/lib/dpkg')}`, '-W', 'vifd']);
      assert.notEqual(status.code, 0, 'dpkg no longer knows vifd');
    });
  });
});
