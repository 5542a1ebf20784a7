import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/model/errors.js';
import { parseConfigText, validateConfig } from '../../../src/config/schema.js';

const SOURCE = '/etc/vifd/vifd.yaml';

function configError(text: string, path: string, pattern: RegExp): void {
  assert.throws(() => parseConfigText(text, SOURCE), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.path, path);
    assert.ok(error.message.startsWith(`${SOURCE}: ${path}: `), error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

const FULL = `
hypervisor: kvm
mac_prefix: "52:54:01"
vif_limit: { default: 8, max: 32 }
ovsdb: { socket: /run/openvswitch/db.sock }
libvirt: { uri: "qemu+ssh://root@hostb/system" }
control_socket: /run/vifd/ctl.sock
state_dir: /var/lib/vifd2
metrics: { listen: "[::1]:9100" }
log: { level: debug }
networks:
  prod:    { bridge: br-prod, vlan: 100, mtu: 9000 }
  storage: { bridge: br-stor, trunks: "200-202,300" }
  mgmt:    { bridge: br-mgmt, vlan: 10, trunks: [20, 30], vlan_mode: native-untagged }
  flat:    { bridge: br-flat }
`;

describe('config/schema: the host config file', () => {
  it('gives every default for an empty file', () => {
    const config = parseConfigText('', SOURCE);
    assert.equal(config.hypervisor, 'kvm');
    assert.equal(config.macPrefix.text, '52:54:00');
    assert.deepEqual(config.vifLimit, { default: 7, max: 64 });
    assert.equal(config.ovsdb.socket, '/var/run/openvswitch/db.sock');
    assert.equal(config.libvirt.uri, 'qemu:///system');
    assert.equal(config.controlSocket, '/run/vifd/vifd.sock');
    assert.equal(config.stateDir, '/var/lib/vifd');
    assert.deepEqual(config.metrics.listen, { host: '127.0.0.1', port: 9477 });
    assert.equal(config.log.level, 'info');
    assert.equal(config.networks.size, 0);
  });

  it('uses the Xen MAC prefix on Xen hosts', () => {
    assert.equal(parseConfigText('hypervisor: xen', SOURCE).macPrefix.text, '00:16:3e');
  });

  it('reads a full file', () => {
    const config = parseConfigText(FULL, SOURCE);
    assert.equal(config.macPrefix.text, '52:54:01');
    assert.deepEqual(config.vifLimit, { default: 8, max: 32 });
    assert.equal(config.ovsdb.socket, '/run/openvswitch/db.sock');
    assert.equal(config.libvirt.uri, 'qemu+ssh://root@hostb/system');
    assert.deepEqual(config.metrics.listen, { host: '::1', port: 9100 });
    assert.equal(config.log.level, 'debug');
    assert.deepEqual(config.networks.get('prod'), { name: 'prod', bridge: 'br-prod', vlan: { mode: 'access', tag: 100 }, mtu: 9000 });
    assert.deepEqual(config.networks.get('storage')?.vlan, { mode: 'trunk', trunks: [200, 201, 202, 300] });
    assert.deepEqual(config.networks.get('mgmt')?.vlan, { mode: 'native-untagged', tag: 10, trunks: [20, 30] });
    assert.deepEqual(config.networks.get('flat')?.vlan, { mode: 'none' });
  });

  it('reads JSON too', () => {
    assert.equal(parseConfigText('{"networks": {"a": {"bridge": "br0", "vlan": "5"}}}', SOURCE).networks.get('a')?.bridge, 'br0');
  });

  it('lowers the default limit under a smaller maximum', () => {
    assert.deepEqual(parseConfigText('vif_limit: { max: 4 }', SOURCE).vifLimit, { default: 4, max: 4 });
  });

  const cases: [string, string, string, RegExp][] = [
    ['unknown top-level key', 'netwroks: {}', '(top level)', /unknown key "netwroks"/],
    ['unknown network key', 'networks: { prod: { bridge: br0, vlna: 5 } }', 'networks.prod', /unknown key "vlna"/],
    ['VLAN 4095', 'networks: { prod: { bridge: br0, vlan: 4095 } }', 'networks.prod.vlan', /4095 is outside 1-4094/],
    ['VLAN 0', 'networks: { prod: { bridge: br0, vlan: 0 } }', 'networks.prod.vlan', /0 is outside 1-4094/],
    ['VLAN garbage', 'networks: { prod: { bridge: br0, vlan: "x" } }', 'networks.prod.vlan', /"x" is not a VLAN id/],
    ['duplicate trunk', 'networks: { s: { bridge: br0, trunks: "1-3,2" } }', 'networks.s.trunks', /VLAN 2 is listed twice/],
    ['bad vlan_mode', 'networks: { s: { bridge: br0, vlan: 3, vlan_mode: tagged } }', 'networks.s.vlan_mode', /"tagged" is not a VLAN mode/],
    ['tag and trunks with no mode', 'networks: { s: { bridge: br0, vlan: 3, trunks: "4" } }', 'networks.s.vlan_mode', /native-tagged or native-untagged/],
    ['missing bridge', 'networks: { prod: { vlan: 5 } }', 'networks.prod.bridge', /is required/],
    ['16-byte bridge', 'networks: { prod: { bridge: br-0123456789abc } }', 'networks.prod.bridge', /is 16 bytes/],
    ['bridge with a slash', 'networks: { prod: { bridge: "br/0" } }', 'networks.prod.bridge', /not a valid interface name/],
    ['bad network name', 'networks: { "pr od": { bridge: br0 } }', 'networks.pr od', /network name "pr od" must be/],
    ['network not a mapping', 'networks: { prod: 5 }', 'networks.prod', /expected a mapping, got 5/],
    ['networks not a mapping', 'networks: [a, b]', 'networks', /expected a mapping/],
    ['MTU too small', 'networks: { prod: { bridge: br0, mtu: 60 } }', 'networks.prod.mtu', /60 is outside 68-65535/],
    ['MTU not a number', 'networks: { prod: { bridge: br0, mtu: "9000" } }', 'networks.prod.mtu', /expected an integer, got "9000"/],
    ['limit not a number', 'vif_limit: { default: seven }', 'vif_limit.default', /expected an integer, got "seven"/],
    ['limit zero', 'vif_limit: { default: 0 }', 'vif_limit.default', /0 is outside 1-1000/],
    ['default above max', 'vif_limit: { default: 10, max: 8 }', 'vif_limit.default', /10 is above vif_limit.max \(8\)/],
    ['unknown limit key', 'vif_limit: { defualt: 3 }', 'vif_limit', /unknown key "defualt"/],
    ['multicast prefix', 'mac_prefix: "01:00:5e"', 'mac_prefix', /multicast prefix/],
    ['6-byte prefix', 'mac_prefix: "52:54:00:00:00:00"', 'mac_prefix', /has 6 bytes/],
    ['bad hypervisor', 'hypervisor: hyperv', 'hypervisor', /"hyperv" is not one of kvm, xen/],
    ['relative socket', 'ovsdb: { socket: db.sock }', 'ovsdb.socket', /"db.sock" is not an absolute path/],
    ['empty uri', 'libvirt: { uri: "" }', 'libvirt.uri', /expected a non-empty string/],
    ['bad listen', 'metrics: { listen: "localhost" }', 'metrics.listen', /is not host:port/],
    ['port 0', 'metrics: { listen: "127.0.0.1:0" }', 'metrics.listen', /is not host:port/],
    ['port too large', 'metrics: { listen: "127.0.0.1:65536" }', 'metrics.listen', /is not host:port/],
    ['bad log level', 'log: { level: verbose }', 'log.level', /"verbose" is not one of error, warn, info, debug/],
    ['section not a mapping', 'ovsdb: /run/db.sock', 'ovsdb', /expected a mapping, got "\/run\/db.sock"/],
  ];
  for (const [what, text, path, pattern] of cases) {
    it(`refuses ${what}, naming ${path}`, () => configError(text, path, pattern));
  }

  it('refuses a top level that is not a mapping', () => configError('- a\n- b', '(top level)', /expected a mapping/));

  it('refuses text that is not YAML, with the line', () => {
    assert.throws(() => parseConfigText('networks:\n  prod: { bridge: br0\n', SOURCE),
      { name: 'ConfigError', message: /^\/etc\/vifd\/vifd\.yaml: not valid YAML at line 3: Flow map in block collection must be sufficiently indented and end with a }$/ });
  });

  it('refuses duplicate keys instead of keeping the last one', () => {
    assert.throws(() => parseConfigText('log: { level: info }\nlog: { level: debug }', SOURCE), { message: /not valid YAML at line 2: Map keys must be unique/ });
  });

  it('validates already parsed objects', () => {
    assert.equal(validateConfig({ networks: { a: { bridge: 'br0' } } }).networks.size, 1);
    assert.throws(() => validateConfig({ networks: { a: { bridge: 'br0', vlan: 9999 } } }), { message: /^networks\.a\.vlan: 9999 is outside/ });
  });
});
