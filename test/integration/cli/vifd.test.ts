// vifd's command line as systemd and operators run it: --check-config lists
// every error (exit 78) or says it is valid (exit 0, one line), a missing
// config stops the start with exit 78 naming the file and the example, and
// --help and --version answer without starting anything.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EXAMPLE_CONFIG } from '../../../src/cli/vifd-config.js';
import { VIFD, runCli } from './cli-run.js';

const vifd = (...args: string[]): ReturnType<typeof runCli> => runCli([process.execPath, VIFD, ...args]);
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('integration: vifd command line', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'vifd-test-vifd-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('--check-config FILE prints every error with its field path and exits 78', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'hypervisor: hv\nlog: { level: loud }\nnetworks:\n  a: { bridge: "x/y", vlan: 0 }\n  b: { vlna: 1 }\n');
    const result = await vifd('--check-config', file);
    assert.equal(result.code, 78);
    assert.equal(result.stdout, '');
    assert.deepEqual(result.stderr.trimEnd().split('\n').map((line) => line.replace(`${file}: `, 'FILE: ').replace(/^(vifd: FILE: [^:]+):.*$/, '$1')), [
      'vifd: FILE: hypervisor', 'vifd: FILE: log.level', 'vifd: FILE: networks.a.bridge', 'vifd: FILE: networks.a.vlan',
      'vifd: FILE: networks.b', 'vifd: FILE: networks.b.bridge', 'vifd: FILE: 6 errors',
    ]);
  });

  it('--check-config says a valid file is valid in one line, exit 0; --config FILE names the file too', async () => {
    const valid = await vifd('--check-config', 'test/fixtures/vifd.yaml');
    assert.equal(valid.code, 0, valid.stderr);
    assert.equal(valid.stdout, 'test/fixtures/vifd.yaml: valid: 3 networks (prod, storage, mgmt), hypervisor kvm, control socket /run/vifd/vifd.sock, libvirt qemu:///system\n');
    const viaConfig = await vifd('--config', 'test/fixtures/vifd.yaml', '--check-config');
    assert.equal(viaConfig.stdout, valid.stdout);
  });

  it('--check-config accepts the example config shipped in systemd/', async () => {
    const result = await vifd('--check-config', 'systemd/vifd.yaml.example');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^systemd\/vifd\.yaml\.example: valid: 3 networks/);
  });

  it('--check-config reports every YAML error of a file that is not YAML', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'a: [1\nb: }\n');
    const result = await vifd('--check-config', file);
    assert.equal(result.code, 78);
    assert.match(result.stderr, /not valid YAML at line \d+: .*\n(.*\n)*.*not valid YAML/);
  });

  it('refuses to start without a config file, naming it and the example, exit 78', async () => {
    const missing = join(dir, 'absent.yaml');
    for (const args of [['--config', missing], ['--check-config', missing]]) {
      const result = await vifd(...args);
      assert.equal(result.code, 78);
      // The package's example when installed, else the checkout's own (which exists here).
      const example = existsSync(EXAMPLE_CONFIG) ? EXAMPLE_CONFIG : resolve('systemd/vifd.yaml.example');
      assert.equal(result.stderr, `vifd: no config file ${missing}: copy the example ${example} there, name the host's networks and bridges in it, then check it with vifd --check-config ${missing}\n`);
    }
  });

  it('refuses to start on an invalid config with every error, exit 78', async () => {
    const file = join(dir, 'two-errors.yaml');
    writeFileSync(file, 'hypervisor: hv\nstate_dir: relative\n');
    const result = await vifd('--config', file);
    assert.equal(result.code, 78);
    assert.match(result.stderr, /hypervisor: "hv" is not one of kvm, xen\n.*state_dir: "relative" is not an absolute path\n.*: 2 errors\n$/);
  });

  it('answers --help and --version on stdout, exit 0; a usage error exits 64', async () => {
    const help = await vifd('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: vifd \[--config FILE\]\n {7}vifd --check-config \[FILE\]\n/);
    for (const flag of ['--version', '-V']) assert.equal((await vifd(flag)).stdout, `vifd ${VERSION}\n`);
    const usage = await vifd('--frobnicate');
    assert.equal(usage.code, 64);
    assert.match(usage.stderr, /^vifd: Unknown option '--frobnicate'/);
  });
});
