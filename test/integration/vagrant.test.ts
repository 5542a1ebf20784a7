// The two-host Vagrant lab (vagrant/), which cannot be booted here (no boxes):
// `vagrant validate` with the vagrant-libvirt provider accepts the Vagrantfile
// and refuses broken copies; shellcheck passes every provisioning script the
// Vagrantfile runs; and what the lab hands vifd (its host config, each demo
// VM's definition) is planned by vifctl as the lab's README says.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfigText } from '../../src/config/schema.js';
import { requireDebianTools } from '../harness/debian-packages.js';
import { run, tryRun } from '../harness/exec.js';
import type { RunResult } from '../harness/exec.js';

const LAB = resolve('vagrant');
const PROVISION = join(LAB, 'provision');
const VAGRANTFILE = readFileSync(join(LAB, 'Vagrantfile'), 'utf8');

/** The demo VMs guests.sh defines: name, UUID, MAC, address, network. */
function labVms(): string[][] {
  const script = readFileSync(join(PROVISION, 'guests.sh'), 'utf8');
  return [...script.matchAll(/"(lab-[ab]\d+ [0-9a-f-]{36} [0-9a-f:]{17} [\d./]+ \w+)"/g)].map((match) => match[1]!.split(' '));
}

/** The host config vifd.sh writes (its heredoc), with the marker line it starts with. */
function labConfig(): string {
  const script = readFileSync(join(PROVISION, 'vifd.sh'), 'utf8');
  const body = /<<CONFIG\n([\s\S]*?)\nCONFIG\n/.exec(script)?.[1];
  const marker = /^MARKER='([^']*)'$/m.exec(script)?.[1];
  assert.ok(body !== undefined && marker !== undefined, 'vifd.sh writes the config from a CONFIG heredoc after MARKER=');
  return `${body.replace('$MARKER', marker)}\n`;
}

describe('integration: the Vagrant lab (vagrant/)', function () {
  this.timeout(600_000);
  let scratch = '';
  let vagrantEnv: string[] = [];
  /** `vagrant validate` in dir, with Vagrant's state kept in the suite's scratch dir. */
  const validate = (dir: string, vagrantfile = 'Vagrantfile'): Promise<RunResult> =>
    tryRun(['env', '-C', dir, ...vagrantEnv, `VAGRANT_VAGRANTFILE=${vagrantfile}`, 'vagrant', 'validate'], { timeoutMs: 120_000 });

  before(async function () {
    await requireDebianTools(this, [
      { command: 'vagrant', debianPackage: 'vagrant' },
      { debianPackage: 'vagrant-libvirt' },
      { command: 'shellcheck', debianPackage: 'shellcheck' },
    ]);
    scratch = mkdtempSync(join(tmpdir(), 'vifd-test-vagrant-'));
    // Vagrant writes its home (~/.vagrant.d) and the project's .vagrant/: both go to scratch.
    vagrantEnv = [`VAGRANT_HOME=${join(scratch, 'home')}`, `VAGRANT_DOTFILE_PATH=${join(scratch, 'dotfile')}`,
      'VAGRANT_DEFAULT_PROVIDER=libvirt', 'VAGRANT_CHECKPOINT_DISABLE=1', 'VAGRANT_NO_COLOR=1'];
  });
  after(() => {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it('vagrant validate accepts the Vagrantfile, with its provider settings and provisioning scripts', async () => {
    const result = await validate(LAB);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /Vagrantfile validated successfully/);
    assert.equal(readdirSync(LAB).includes('.vagrant'), false, 'vagrant left its state in the source tree');
  });

  it('vagrant validate refuses a misspelled provider setting and a missing provisioning script', async () => {
    const copy = join(scratch, 'lab');
    cpSync(LAB, copy, { recursive: true });
    writeFileSync(join(copy, 'Vagrantfile.typo'), VAGRANTFILE.replace('lv.nested = true', 'lv.nestd = true'));
    const typo = await validate(copy, 'Vagrantfile.typo');
    assert.notEqual(typo.code, 0);
    assert.match(typo.stdout + typo.stderr, /nestd/);
    rmSync(join(copy, 'provision', 'guests.sh'));
    const missing = await validate(copy);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stdout + missing.stderr, /guests\.sh/);
  });

  it('runs the provisioning steps in order, each a script in vagrant/provision', () => {
    const steps = [...VAGRANTFILE.matchAll(/provision "([a-z-]+)", type: "shell", path: "provision\/([a-z-]+\.sh)"/g)]
      .map((match) => [match[1]!, match[2]!]);
    assert.deepEqual(steps.map(([step]) => step), ['packages', 'trunk', 'vifd', 'guests', 'ping-matrix']);
    assert.deepEqual(steps.map(([, file]) => file).sort(), readdirSync(PROVISION).filter((name) => name.endsWith('.sh')).sort());
    assert.doesNotMatch(VAGRANTFILE, /inline:/, 'every step is a file shellcheck can check');
  });

  it('shellcheck passes every provisioning script, and the check can fail', async () => {
    const scripts = readdirSync(PROVISION).filter((name) => name.endsWith('.sh')).map((name) => join(PROVISION, name));
    assert.ok(scripts.length >= 5);
    const result = await tryRun(['shellcheck', '--external-sources', ...scripts]);
    assert.equal(result.code, 0, result.stdout);
    const bad = join(scratch, 'bad.sh');
    writeFileSync(bad, '#!/bin/bash\nrm -rf $1/*\n');
    assert.notEqual((await tryRun(['shellcheck', bad])).code, 0);
  });

  it("the lab's host config is valid and names the trunk bridge for VLANs 100 and 200", () => {
    const config = parseConfigText(labConfig(), 'vagrant/provision/vifd.sh');
    assert.deepEqual([...config.networks.values()].map((network) => [network.name, network.bridge, network.vlan]),
      [['v100', 'br-trunk', { mode: 'access', tag: 100 }], ['v200', 'br-trunk', { mode: 'access', tag: 200 }]]);
  });

  it('vifctl plans each demo VM as the lab README lists it: one VIF, its MAC, its VLAN on br-trunk', async () => {
    const configPath = join(scratch, 'lab.yaml');
    writeFileSync(configPath, labConfig());
    const script = readFileSync(join(PROVISION, 'guests.sh'), 'utf8');
    const definition = /^definition\(\) \{\n[\s\S]*?\n\}\n/m.exec(script)?.[0];
    assert.ok(definition !== undefined, 'guests.sh has a definition() function');
    const vms = labVms();
    assert.deepEqual(vms.map(([name]) => name), ['lab-a100', 'lab-a200', 'lab-b100', 'lab-b200']);
    const readme = readFileSync(join(LAB, 'README.md'), 'utf8');
    for (const [name, uuid, mac, address, network] of vms) {
      // The function as guests.sh has it, run by bash with the values it is given there.
      const xml = await run(['bash', '-c', `${definition}\ndomain_type=qemu GUEST_DIR=/g STATE_DIR=/s definition "$@"`,
        'bash', name!, uuid!, mac!, address!, network!]);
      const xmlPath = join(scratch, `${name!}.xml`);
      writeFileSync(xmlPath, xml);
      const plan = await tryRun(['node', 'dist/src/cli/vifctl.js', 'plan', xmlPath, '--config', configPath]);
      assert.equal(plan.code, 0, `${name!}: ${plan.stdout}${plan.stderr}`);
      const vlan = network!.slice(1);
      assert.match(plan.stdout, new RegExp(`: 1 of 7 VIFs[\\s\\S]*^0 +tap +vd\\w+-0 +${mac!} +${network!} +br-trunk +access ${vlan} `, 'm'), name);
      assert.match(readme, new RegExp(`\\| \`${name!}\` \\| host${name!.charAt(4)} \\| ${network!} \\(VLAN ${vlan}\\) \\| ${mac!} \\| ${address!.split('/')[0]!.replaceAll('.', '\\.')} \\|`), `README row of ${name!}`);
    }
    assert.match(readme, /not booted/, 'the README says the lab was not booted here');
  });
});
