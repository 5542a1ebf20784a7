import assert from 'node:assert/strict';
import { VIFCTL_HELP, VIFCTL_USAGE, wantsHelp } from '../../../src/cli/help.js';
import { EXAMPLE_CONFIG, configSummary, exampleConfigPath, readDaemonConfig } from '../../../src/cli/vifd-config.js';
import { parseConfigText } from '../../../src/config/schema.js';

describe('cli/help and vifd-config', () => {
  it('finds --help or -h anywhere before --', () => {
    assert.equal(wantsHelp(['status', '--help']), true);
    assert.equal(wantsHelp(['web1', '-h', '--state', 'x']), true);
    assert.equal(wantsHelp(['--', '--help']), false);
    assert.equal(wantsHelp(['--helpful']), false);
  });

  it('has help for every command the overview lists, each naming --json and --help', () => {
    const listed = [...VIFCTL_USAGE.matchAll(/^ {2}([a-z]+) /gm)].map((match) => match[1]);
    assert.deepEqual(listed.sort(), Object.keys(VIFCTL_HELP).sort());
    for (const [name, help] of Object.entries(VIFCTL_HELP)) {
      assert.match(help, new RegExp(`^usage: vifctl ${name} `));
      assert.match(help, /--json/);
      assert.match(help, /--help/);
    }
  });

  it('summarizes a valid config in one line', () => {
    assert.equal(configSummary('/etc/vifd/vifd.yaml', parseConfigText('networks: { a: { bridge: br0 } }', 'x')),
      '/etc/vifd/vifd.yaml: valid: 1 network (a), hypervisor kvm, control socket /run/vifd/vifd.sock, libvirt qemu:///system');
    assert.match(configSummary('f', parseConfigText('', 'x')), /^f: valid: no networks,/);
  });

  it('refuses a missing config naming the path and the example', () => {
    const outcome = readDaemonConfig('/nonexistent/vifd-test/vifd.yaml');
    if (outcome.ok) assert.fail('a missing file must be refused');
    assert.match(outcome.lines.join('\n'), /^vifd: no config file \/nonexistent\/vifd-test\/vifd\.yaml: copy the example \S+vifd\.yaml\.example there/);
  });

  it('points at the package\'s example, else the one beside the program', () => {
    assert.equal(exampleConfigPath(() => true), EXAMPLE_CONFIG);
    assert.match(exampleConfigPath((path) => path !== EXAMPLE_CONFIG), /\/systemd\/vifd\.yaml\.example$/);
    assert.equal(exampleConfigPath(() => false), EXAMPLE_CONFIG);
  });
});
