// Xen hosts without libvirtd (XAPI hosts, libxl alone) say so with
// `libvirt: { enabled: false }`: only a Xen host may, the errors name the
// field, a change takes a restart, and `vifctl info` says libvirt is not used
// rather than disconnected.
import assert from 'node:assert/strict';
import { formatInfo } from '../../../src/cli/info.js';
import { configSummary } from '../../../src/cli/vifd-config.js';
import { diffConfig } from '../../../src/config/diff.js';
import { parseConfigText, usesLibvirt } from '../../../src/config/schema.js';
import { describeInfo } from '../../../src/daemon/info.js';
import { ConfigError } from '../../../src/model/errors.js';

const SOURCE = '/etc/vifd/vifd.yaml';

describe('config: libvirt.enabled', () => {
  it('is on unless a Xen host turns it off', () => {
    assert.equal(usesLibvirt(parseConfigText('', SOURCE)), true);
    assert.equal(usesLibvirt(parseConfigText('hypervisor: xen\nlibvirt: { enabled: true }', SOURCE)), true);
    assert.equal(usesLibvirt(parseConfigText('hypervisor: xen\nlibvirt: { enabled: false }\nxapi:', SOURCE)), false);
    // A config built in code without the key (tests, older callers) uses libvirtd.
    assert.equal(usesLibvirt({ libvirt: { uri: 'qemu:///system' } }), true);
  });

  for (const [what, text, pattern] of [
    ['a KVM host without libvirtd', 'libvirt: { enabled: false }', /false needs hypervisor: xen/],
    ['a value that is not a boolean', 'hypervisor: xen\nlibvirt: { enabled: "no" }', /expected true or false, got "no"/],
  ] as const) {
    it(`refuses ${what}, naming libvirt.enabled`, () => {
      assert.throws(() => parseConfigText(text, SOURCE), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.path, 'libvirt.enabled');
        assert.match(error.message, pattern);
        return true;
      });
    });
  }

  it('takes a restart to change, and the config check says libvirt is not used', () => {
    const before = parseConfigText('hypervisor: xen', SOURCE);
    const after = parseConfigText('hypervisor: xen\nlibvirt: { enabled: false }', SOURCE);
    assert.deepEqual(diffConfig(before, after).needRestart, ['libvirt.enabled']);
    assert.match(configSummary(SOURCE, after), /libvirt not used$/);
  });

  it('shows as "not used" in vifctl info, not as a connection state', () => {
    const config = parseConfigText('hypervisor: xen\nlibvirt: { enabled: false }', SOURCE);
    const info = describeInfo({
      version: '1', startedAtMs: 0, now: () => 0, config: () => config, libvirt: () => 'not used', ovsdb: () => 'connected', bridgeExists: () => true,
    });
    assert.equal(info.libvirt.state, 'not used');
    const text = formatInfo(info, '1');
    assert.match(text, /^libvirt: not used \(libvirt\.enabled: false\)$/m);
    assert.doesNotMatch(text, /disconnected|connecting/);
  });
});
