import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/model/errors.js';
import { checkConfigText, parseConfigText, validateConfig } from '../../../src/config/schema.js';

const SOURCE = '/etc/vifd/vifd.yaml';

function configError(text: string, path: string, pattern: RegExp): ConfigError {
  let caught: ConfigError | undefined;
  assert.throws(() => parseConfigText(text, SOURCE), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.path, path);
    assert.ok(error.message.startsWith(`${SOURCE}: ${path}: `), error.message);
    assert.match(error.message, pattern);
    assert.equal(error.message.includes('\n'), false);
    caught = error;
    return true;
  });
  assert.ok(caught);
  return caught;
}

function yamlError(text: string, pattern: RegExp): void {
  assert.throws(() => parseConfigText(text, SOURCE), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.path, '');
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
  uplink:
    bridge: br-up
    trunks: [100, "200-201"]
`;

describe('config/schema: the host config file', () => {
  for (const [what, text] of [['an empty file', ''], ['only a comment', '# nothing yet\n'], ['an empty mapping', '{}'], ['null', '~']] as const) {
    it(`gives every default for ${what}`, () => {
      const config = parseConfigText(text, SOURCE);
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
  }

  it('uses the Xen MAC prefix on Xen hosts, unless one is given', () => {
    assert.equal(parseConfigText('hypervisor: xen', SOURCE).macPrefix.text, '00:16:3e');
    assert.equal(parseConfigText('hypervisor: xen\nmac_prefix: "02:AB"', SOURCE).macPrefix.text, '02:ab');
    assert.deepEqual(parseConfigText('mac_prefix: "52:54:AB"', SOURCE).macPrefix, { bytes: [0x52, 0x54, 0xab], text: '52:54:ab' });
  });

  it('reads a full file', () => {
    const config = parseConfigText(FULL, SOURCE);
    assert.equal(config.macPrefix.text, '52:54:01');
    assert.deepEqual(config.vifLimit, { default: 8, max: 32 });
    assert.equal(config.ovsdb.socket, '/run/openvswitch/db.sock');
    assert.equal(config.libvirt.uri, 'qemu+ssh://root@hostb/system');
    assert.equal(config.controlSocket, '/run/vifd/ctl.sock');
    assert.equal(config.stateDir, '/var/lib/vifd2');
    assert.deepEqual(config.metrics.listen, { host: '::1', port: 9100 });
    assert.equal(config.log.level, 'debug');
    assert.deepEqual([...config.networks.keys()], ['prod', 'storage', 'mgmt', 'flat', 'uplink']);
    assert.deepEqual(config.networks.get('prod'), { name: 'prod', bridge: 'br-prod', vlan: { mode: 'access', tag: 100 }, mtu: 9000 });
    assert.deepEqual(config.networks.get('storage')?.vlan, { mode: 'trunk', trunks: [200, 201, 202, 300] });
    assert.deepEqual(config.networks.get('mgmt')?.vlan, { mode: 'native-untagged', tag: 10, trunks: [20, 30] });
    assert.deepEqual(config.networks.get('flat'), { name: 'flat', bridge: 'br-flat', vlan: { mode: 'none' } });
    assert.deepEqual(config.networks.get('uplink')?.vlan, { mode: 'trunk', trunks: [100, 200, 201] });
  });

  it('reads JSON too', () => {
    const config = parseConfigText('{"hypervisor": "xen", "networks": {"a": {"bridge": "br0", "vlan": "5"}}}', SOURCE);
    assert.equal(config.hypervisor, 'xen');
    assert.deepEqual(config.networks.get('a'), { name: 'a', bridge: 'br0', vlan: { mode: 'access', tag: 5 } });
  });

  it('sets the limits alone or together', () => {
    assert.deepEqual(parseConfigText('vif_limit: { max: 4 }', SOURCE).vifLimit, { default: 4, max: 4 }); // the default follows a smaller cap
    assert.deepEqual(parseConfigText('vif_limit: { default: 20 }', SOURCE).vifLimit, { default: 20, max: 64 });
    assert.deepEqual(parseConfigText('vif_limit: { default: 1000, max: 1000 }', SOURCE).vifLimit, { default: 1000, max: 1000 });
    assert.deepEqual(parseConfigText('vif_limit:', SOURCE).vifLimit, { default: 7, max: 64 });
  });

  it('accepts any listen address, loopback or not', () => {
    for (const [listen, host, port] of [
      ['0.0.0.0:80', '0.0.0.0', 80], ['localhost:9477', 'localhost', 9477], ['[::]:65535', '::', 65535],
      ['[fe80::1%eth0]:1', 'fe80::1%eth0', 1], ['metrics.example.org:9100', 'metrics.example.org', 9100],
    ] as const) {
      assert.deepEqual(parseConfigText(`metrics: { listen: "${listen}" }`, SOURCE).metrics.listen, { host, port });
    }
  });

  it('accepts the edges of each range', () => {
    const config = parseConfigText('networks: { a: { bridge: br0, vlan: 1, mtu: 68 }, b: { bridge: br1, vlan: 4094, mtu: 65535 } }', SOURCE);
    assert.equal(config.networks.get('a')?.mtu, 68);
    assert.equal(config.networks.get('b')?.mtu, 65535);
    assert.ok(parseConfigText(`networks: { ${'n'.repeat(64)}: { bridge: br0 }, a.b_c-1: { bridge: br1 } }`, SOURCE).networks.has('a.b_c-1'));
  });

  const cases: [string, string, string, RegExp][] = [
    ['unknown top-level key', 'netwroks: {}', '(top level)', /unknown key "netwroks" \(known: hypervisor, mac_prefix, /],
    ['several unknown keys', 'a: 1\nb: 2', '(top level)', /unknown keys "a", "b"/],
    ['unknown network key', 'networks: { prod: { bridge: br0, vlna: 5 } }', 'networks.prod', /unknown key "vlna" \(known: bridge, vlan, trunks, vlan_mode, mtu, sriov\)/],
    ['unknown ovsdb key', 'ovsdb: { sock: /run/db.sock }', 'ovsdb', /unknown key "sock"/],
    ['unknown libvirt key', 'libvirt: { url: "qemu:///system" }', 'libvirt', /unknown key "url"/],
    ['unknown metrics key', 'metrics: { port: 9100 }', 'metrics', /unknown key "port"/],
    ['unknown log key', 'log: { lvl: info }', 'log', /unknown key "lvl"/],
    ['unknown limit key', 'vif_limit: { defualt: 3 }', 'vif_limit', /unknown key "defualt"/],
    ['VLAN 4095', 'networks: { prod: { bridge: br0, vlan: 4095 } }', 'networks.prod.vlan', /: 4095 is outside 1-4094$/],
    ['VLAN "4095"', 'networks: { prod: { bridge: br0, vlan: "4095" } }', 'networks.prod.vlan', /: "4095" is outside 1-4094$/],
    ['VLAN 0', 'networks: { prod: { bridge: br0, vlan: 0 } }', 'networks.prod.vlan', /0 is outside 1-4094/],
    ['VLAN -1', 'networks: { prod: { bridge: br0, vlan: -1 } }', 'networks.prod.vlan', /-1 is outside 1-4094/],
    ['VLAN garbage', 'networks: { prod: { bridge: br0, vlan: "x" } }', 'networks.prod.vlan', /"x" is not a VLAN id/],
    ['VLAN as a float', 'networks: { prod: { bridge: br0, vlan: 10.5 } }', 'networks.prod.vlan', /"10.5" is not a VLAN id/],
    // YAML 1.2 would read these as 100 (or 10); vifd keeps them as the text written and refuses it.
    ['VLAN in hex', 'networks: { prod: { bridge: br0, vlan: 0x64 } }', 'networks.prod.vlan', /"0x64" is not a VLAN id/],
    ['VLAN in octal', 'networks: { prod: { bridge: br0, vlan: 0o144 } }', 'networks.prod.vlan', /"0o144" is not a VLAN id/],
    ['VLAN with an exponent', 'networks: { prod: { bridge: br0, vlan: 1e2 } }', 'networks.prod.vlan', /"1e2" is not a VLAN id/],
    ['VLAN with a leading zero', 'networks: { prod: { bridge: br0, vlan: 010 } }', 'networks.prod.vlan', /"010" is not a VLAN id/],
    ['VLAN with a plus sign', 'networks: { prod: { bridge: br0, vlan: +100 } }', 'networks.prod.vlan', /"\+100" is not a VLAN id/],
    ['VLAN .inf', 'networks: { prod: { bridge: br0, vlan: .inf } }', 'networks.prod.vlan', /".inf" is not a VLAN id/],
    ['duplicate trunk', 'networks: { s: { bridge: br0, trunks: "1-3,2" } }', 'networks.s.trunks', /VLAN 2 is listed twice/],
    ['reversed trunk range', 'networks: { s: { bridge: br0, trunks: "20-10" } }', 'networks.s.trunks', /range "20-10" runs backwards/],
    ['empty trunk item', 'networks: { s: { bridge: br0, trunks: "1,,2" } }', 'networks.s.trunks', /has an empty item/],
    ['trunk in hex in a list', 'networks: { s: { bridge: br0, trunks: [0x10] } }', 'networks.s.trunks', /"0x10" is not a VLAN id/],
    ['bad vlan_mode', 'networks: { s: { bridge: br0, vlan: 3, vlan_mode: tagged } }', 'networks.s.vlan_mode', /"tagged" is not a VLAN mode/],
    ['tag and trunks with no mode', 'networks: { s: { bridge: br0, vlan: 3, trunks: "4" } }', 'networks.s.vlan_mode', /native-tagged or native-untagged/],
    ['access with trunks', 'networks: { s: { bridge: br0, vlan: 3, trunks: "4", vlan_mode: access } }', 'networks.s.trunks', /access mode carries one VLAN/],
    ['trunk mode without trunks', 'networks: { s: { bridge: br0, vlan_mode: trunk } }', 'networks.s.trunks', /trunk mode needs a trunk list/],
    ['native mode without a tag', 'networks: { s: { bridge: br0, vlan_mode: native-tagged } }', 'networks.s.vlan', /needs a VLAN tag/],
    ['missing bridge', 'networks: { prod: { vlan: 5 } }', 'networks.prod.bridge', /: is required$/],
    ['network with no settings', 'networks: { prod: }', 'networks.prod.bridge', /is required/],
    ['16-byte bridge', 'networks: { prod: { bridge: br-0123456789abc } }', 'networks.prod.bridge', /"br-0123456789abc" is 16 bytes; interface names have at most 15/],
    ['bridge with a slash', 'networks: { prod: { bridge: "br/0" } }', 'networks.prod.bridge', /"br\/0" is not a valid interface name/],
    ['bridge with a space', 'networks: { prod: { bridge: "br 0" } }', 'networks.prod.bridge', /is not a valid interface name/],
    ['bridge "."', 'networks: { prod: { bridge: "." } }', 'networks.prod.bridge', /is not a valid interface name/],
    ['bridge as a number', 'networks: { prod: { bridge: 5 } }', 'networks.prod.bridge', /5 is not a valid interface name/],
    ['bad network name', 'networks: { "pr od": { bridge: br0 } }', 'networks.pr od', /network name "pr od" must be 1-64 of A-Z a-z 0-9 _ \. -/],
    ['network name with a slash', 'networks: { "a/b": { bridge: br0 } }', 'networks.a/b', /network name "a\/b" must be/],
    ['65-character network name', `networks: { ${'n'.repeat(65)}: { bridge: br0 } }`, `networks.${'n'.repeat(65)}`, /must be 1-64/],
    ['empty network name', 'networks: { "": { bridge: br0 } }', 'networks.', /network name "" must be/],
    ['network not a mapping', 'networks: { prod: 5 }', 'networks.prod', /expected a mapping, got 5/],
    ['network as a list', 'networks: { prod: [br0] }', 'networks.prod', /expected a mapping, got \["br0"\]/],
    ['networks not a mapping', 'networks: [a, b]', 'networks', /expected a mapping/],
    ['networks as a !!omap', 'networks: !!omap [ { prod: { bridge: br0 } } ]', 'networks', /expected a mapping/],
    ['MTU too small', 'networks: { prod: { bridge: br0, mtu: 60 } }', 'networks.prod.mtu', /60 is outside 68-65535/],
    ['MTU too large', 'networks: { prod: { bridge: br0, mtu: 65536 } }', 'networks.prod.mtu', /65536 is outside 68-65535/],
    ['MTU as text', 'networks: { prod: { bridge: br0, mtu: "9000" } }', 'networks.prod.mtu', /expected an integer, got "9000"/],
    ['MTU in hex', 'networks: { prod: { bridge: br0, mtu: 0x2328 } }', 'networks.prod.mtu', /expected an integer, got "0x2328"/],
    ['limit not a number', 'vif_limit: { default: seven }', 'vif_limit.default', /^\S+ vif_limit\.default: expected an integer, got "seven"$/],
    ['limit zero', 'vif_limit: { default: 0 }', 'vif_limit.default', /0 is outside 1-1000/],
    ['limit a float', 'vif_limit: { default: 7.5 }', 'vif_limit.default', /expected an integer, got "7.5"/],
    ['maximum above 1000', 'vif_limit: { max: 1001 }', 'vif_limit.max', /1001 is outside 1-1000/],
    ['default above max', 'vif_limit: { default: 10, max: 8 }', 'vif_limit.default', /10 is above vif_limit.max \(8\)/],
    ['default above the default max', 'vif_limit: { default: 65 }', 'vif_limit.default', /65 is above vif_limit.max \(64\)/],
    ['limits not a mapping', 'vif_limit: 7', 'vif_limit', /expected a mapping, got 7/],
    ['multicast prefix', 'mac_prefix: "01:00:5e"', 'mac_prefix', /"01:00:5e" is a multicast prefix/],
    ['6-byte prefix', 'mac_prefix: "52:54:00:00:00:00"', 'mac_prefix', /has 6 bytes/],
    ['dashed prefix', 'mac_prefix: "52-54-00"', 'mac_prefix', /hex pairs separated by ':' only/],
    ['prefix as a number', 'mac_prefix: 525400', 'mac_prefix', /expected a MAC prefix, got 525400/],
    ['bad hypervisor', 'hypervisor: hyperv', 'hypervisor', /"hyperv" is not one of kvm, xen/],
    ['hypervisor in capitals', 'hypervisor: KVM', 'hypervisor', /"KVM" is not one of kvm, xen/],
    ['relative socket', 'ovsdb: { socket: db.sock }', 'ovsdb.socket', /"db.sock" is not an absolute path/],
    ['socket as a number', 'ovsdb: { socket: 5 }', 'ovsdb.socket', /expected a non-empty string, got 5/],
    ['relative control socket', 'control_socket: run/vifd.sock', 'control_socket', /"run\/vifd.sock" is not an absolute path/],
    ['relative state dir', 'state_dir: "~/vifd"', 'state_dir', /"~\/vifd" is not an absolute path/],
    ['empty state dir', 'state_dir: ""', 'state_dir', /expected a non-empty string, got ""/],
    ['empty uri', 'libvirt: { uri: "" }', 'libvirt.uri', /expected a non-empty string/],
    ['uri as a list', 'libvirt: { uri: [a] }', 'libvirt.uri', /expected a non-empty string, got \["a"\]/],
    ['listen without a port', 'metrics: { listen: "localhost" }', 'metrics.listen', /"localhost" is not host:port/],
    ['listen without a host', 'metrics: { listen: ":9477" }', 'metrics.listen', /is not host:port/],
    ['port 0', 'metrics: { listen: "127.0.0.1:0" }', 'metrics.listen', /is not host:port/],
    ['port too large', 'metrics: { listen: "127.0.0.1:65536" }', 'metrics.listen', /is not host:port/],
    ['port with a leading zero', 'metrics: { listen: "127.0.0.1:09477" }', 'metrics.listen', /is not host:port/],
    ['unbracketed IPv6', 'metrics: { listen: "::1:9477" }', 'metrics.listen', /is not host:port/],
    ['bracketed non-IPv6', 'metrics: { listen: "[localhost]:9477" }', 'metrics.listen', /is not host:port/],
    ['IPv4 out of range', 'metrics: { listen: "999.1.1.1:80" }', 'metrics.listen', /is not host:port/],
    ['host with an underscore', 'metrics: { listen: "my_host:80" }', 'metrics.listen', /is not host:port/],
    ['host with an empty label', 'metrics: { listen: "a..b:80" }', 'metrics.listen', /is not host:port/],
    ['listen as a number', 'metrics: { listen: 9477 }', 'metrics.listen', /9477 is not host:port/],
    ['bad log level', 'log: { level: verbose }', 'log.level', /"verbose" is not one of error, warn, info, debug/],
    ['section not a mapping', 'ovsdb: /run/db.sock', 'ovsdb', /expected a mapping, got "\/run\/db.sock"/],
  ];
  for (const [what, text, path, pattern] of cases) {
    it(`refuses ${what}, naming ${path}`, () => configError(text, path, pattern));
  }

  it('keeps the offending value on the error', () => {
    assert.equal(configError('networks: { p: { bridge: br0, vlan: 0x64 } }', 'networks.p.vlan', /./).context.value, '0x64');
    assert.equal(configError('log: { level: loud }', 'log.level', /./).context.value, 'loud');
    assert.equal(configError('networks: { p: { bridge: br0, mtu: 1 } }', 'networks.p.mtu', /./).context.value, 1);
  });

  it('refuses a top level that is not a mapping', () => {
    configError('- a\n- b', '(top level)', /expected a mapping, got \["a","b"\]/);
    configError('just text', '(top level)', /expected a mapping, got "just text"/);
    configError('[]', '(top level)', /expected a mapping/);
  });

  describe('YAML itself', () => {
    it('refuses text that is not YAML, with the line', () => {
      yamlError('networks:\n  prod: { bridge: br0\n',
        /^\/etc\/vifd\/vifd\.yaml: not valid YAML at line 3: Flow map in block collection must be sufficiently indented and end with a }$/);
    });
    it('refuses duplicate keys instead of keeping the last one', () => {
      yamlError('log: { level: info }\nlog: { level: debug }', /not valid YAML at line 2: Map keys must be unique/);
    });
    it('refuses more than one document', () => yamlError('log: { level: info }\n---\nlog: { level: debug }', /not valid YAML at line 2: Source contains multiple documents/));
    it('refuses tags it does not know', () => yamlError('log: { level: !loud info }', /not valid YAML at line 1: Unresolved tag: !loud/));
    it('refuses an alias to no anchor', () => yamlError('log: *nothing', /not valid YAML: Unresolved alias/));
    it('refuses a number forced on text it would not read as one', () => yamlError('vif_limit: { default: !!int 0x7 }', /not valid YAML at line 1: Unresolved tag/));
    it('reads anchors and aliases', () => {
      const config = parseConfigText('networks:\n  a: &net { bridge: br0, vlan: 5 }\n  b: *net\n', SOURCE);
      assert.deepEqual(config.networks.get('b'), { name: 'b', bridge: 'br0', vlan: { mode: 'access', tag: 5 } });
    });
    it('stays YAML 1.2 under a %YAML 1.1 directive: "yes" is text, not true', () => {
      configError('%YAML 1.1\n---\nhypervisor: yes', 'hypervisor', /"yes" is not one of kvm, xen/);
    });
    it('prints nothing on stderr for odd but valid documents', async () => {
      const warnings: unknown[] = [];
      const collect = (warning: unknown): void => { warnings.push(warning); };
      process.on('warning', collect);
      try {
        configError('? [a]\n: 1', '(top level)', /unknown key "\[ a \]"/);
        await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on a later tick
      } finally {
        process.off('warning', collect);
      }
      assert.deepEqual(warnings, []);
    });
  });

  it('validates already parsed objects, with paths and no source', () => {
    assert.equal(validateConfig({ networks: { a: { bridge: 'br0' } } }).networks.size, 1);
    assert.equal(validateConfig(undefined).log.level, 'info');
    assert.throws(() => validateConfig({ networks: { a: { bridge: 'br0', vlan: 9999 } } }), { name: 'ConfigError', message: /^networks\.a\.vlan: 9999 is outside/ });
    assert.throws(() => validateConfig({ networks: new Map([['a', { bridge: 'br0' }]]) }), { message: /^networks: expected a mapping/ });
    assert.throws(() => validateConfig({ state_dir: new Date(0) }), { message: /^state_dir: expected a non-empty string/ });
  });
});

describe('config/schema: checkConfigText finds every error', () => {
  const errorsOf = (text: string): readonly ConfigError[] => {
    const check = checkConfigText(text, SOURCE);
    if (check.ok) assert.fail(`expected errors for ${JSON.stringify(text)}`);
    return check.errors;
  };
  const paths = (text: string): string[] => errorsOf(text).map((error) => error.path);

  it('lists every bad field with its path, in file order, each message naming the file', () => {
    const text = [
      'hypervisor: hyperv', 'colour: blue', 'vif_limit: { default: 0, max: 2000 }', 'ovsdb: { socket: db.sock }',
      'metrics: { listen: nowhere }', 'log: { level: loud, extra: 1 }',
      'networks:', '  a: { bridge: br0, vlan: 4095, mtu: 1 }', '  "b c": { bridge: br1 }', '  d: { vlan: 5 }', '  e: { bridge: br0 }',
    ].join('\n');
    const errors = errorsOf(text);
    assert.deepEqual(errors.map((error) => error.path), [
      '(top level)', 'hypervisor', 'log', 'vif_limit.max', 'vif_limit.default', 'ovsdb.socket', 'metrics.listen', 'log.level',
      'networks.a.vlan', 'networks.a.mtu', 'networks.b c', 'networks.d.bridge',
    ]);
    for (const error of errors) assert.ok(error.message.startsWith(`${SOURCE}: ${error.path}: `), error.message);
    assert.match(errors[0]?.message ?? '', /unknown key "colour"/);
  });

  it('does not report default above an invalid max, which would repeat that error', () => {
    assert.deepEqual(paths('vif_limit: { default: 70, max: 1001 }'), ['vif_limit.max']);
    assert.deepEqual(paths('vif_limit: { default: 70, max: 8 }'), ['vif_limit.default']);
  });

  it('reads known keys beside unknown ones', () => {
    assert.deepEqual(paths('networks: { p: { bridge: "br/0", vlna: 5 } }'), ['networks.p', 'networks.p.bridge']);
  });

  it('lists every YAML error', () => {
    const errors = errorsOf('a: [1\nb: }\n');
    assert.ok(errors.length >= 2, errors.map((error) => error.message).join('\n'));
    for (const error of errors) assert.match(error.message, /^\/etc\/vifd\/vifd\.yaml: not valid YAML/);
  });

  it('gives the config when there is no error, equal to parseConfigText', () => {
    const check = checkConfigText(FULL, SOURCE);
    if (!check.ok) assert.fail(check.errors.map((error) => error.message).join('\n'));
    assert.deepEqual(check.config, parseConfigText(FULL, SOURCE));
  });

  it('keeps parseConfigText throwing the first error, as before', () => {
    configError('hypervisor: hyperv\nlog: { level: loud }', 'hypervisor', /"hyperv" is not one of/);
  });
});
