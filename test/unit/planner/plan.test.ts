// Reading domain definitions, planning their VIFs and rendering interfaces:
// pure code, asserted with no host.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { validateConfig } from '../../../src/config/schema.js';
import { MAX_DOMAIN_XML_BYTES, parseDomainXml } from '../../../src/sources/libvirt/domain-xml.js';
import { InvalidInputError, LimitExceededError, MacInUseError } from '../../../src/model/errors.js';
import { planDomain, renderedInterfaceProblems } from '../../../src/sources/libvirt/intent.js';
import { renderDomainInterfaces, renderTapInterface } from '../../../src/sources/libvirt/render.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const config = validateConfig({
  vif_limit: { default: 7, max: 16 },
  networks: { prod: { bridge: 'br-prod', vlan: 100, mtu: 9000 }, storage: { bridge: 'br-stor', trunks: '200-202' } },
});
const fixture = readFileSync(new URL('../../../../test/fixtures/domains/web1.xml', import.meta.url), 'utf8');

function domain(vifs: string, options: { limit?: string; interfaces?: string; prefix?: string; name?: string } = {}): string {
  const p = options.prefix ?? 'vifd';
  const limit = options.limit === undefined ? '' : `<${p}:vif-limit>${options.limit}</${p}:vif-limit>`;
  return `<domain type='kvm'><name>${options.name ?? 'web1'}</name><uuid>${UUID}</uuid>
    <metadata><${p}:vifd xmlns:${p}="https://vifd.dev/xmlns/vifd/1">${limit}${vifs}</${p}:vifd></metadata>
    <devices>${options.interfaces ?? ''}</devices></domain>`;
}
const vif = (network: string, mac?: string): string => `<vifd:vif network="${network}"${mac === undefined ? '' : ` mac="${mac}"`}/>`;

describe('model/plan: from a domain definition to a plan for every VIF', () => {
  it('reads identity, vifd intent and interfaces', () => {
    const parsed = parseDomainXml(fixture);
    assert.equal(parsed.name, 'web1');
    assert.equal(parsed.uuid, UUID);
    assert.deepEqual(parsed.intent, { vifs: [{ index: 0, network: 'prod', kind: 'tap' }, { index: 1, network: 'storage', mac: '52:54:00:12:34:56', kind: 'tap' }] });
    assert.equal(parsed.interfaces.length, 3);
    assert.deepEqual(parsed.interfaces[2], {
      type: 'bridge', mac: '52:54:00:00:00:99', sourceBridge: 'br-mgmt', virtualport: 'openvswitch',
      vlanTags: [{ id: '10', nativeMode: 'untagged' }, { id: '20', nativeMode: undefined }], vlanTrunk: false,
    });
  });

  it('plans device names, MACs (invariant 6), bridges, VLANs and MTU', () => {
    const plan = planDomain(parseDomainXml(fixture), config);
    assert.deepEqual(plan.vifs, [
      { kind: 'tap', index: 0, device: 'vdu2vyz32zb-0', mac: '52:54:00:a1:f6:ed', macSource: 'derived', macCollisions: 0,
        network: 'prod', bridge: 'br-prod', vlan: { mode: 'access', tag: 100 }, mtu: 9000 },
      { kind: 'tap', index: 1, device: 'vdu2vyz32zb-1', mac: '52:54:00:12:34:56', macSource: 'explicit', macCollisions: 0,
        network: 'storage', bridge: 'br-stor', vlan: { mode: 'trunk', trunks: [200, 201, 202] } },
    ]);
    assert.deepEqual(plan.otherInterfaces, [{ kind: 'libvirt-ovs', bridge: 'br-mgmt', mac: '52:54:00:00:00:99',
      vlan: { mode: 'native-untagged', tag: 10, trunks: [20] } }]);
    assert.deepEqual(plan.limit, { limit: 7, source: 'host' });
    assert.equal(plan.interfaceCount, 3);
    assert.deepEqual(renderedInterfaceProblems(parseDomainXml(fixture), plan), []);
  });

  it('finds vifd metadata by namespace, whatever the prefix', () => {
    const plan = planDomain(parseDomainXml(domain('<x:vif network="prod"/>', { prefix: 'x' })), config);
    assert.equal(plan.vifs[0]?.network, 'prod');
    const foreign = parseDomainXml(`<domain><name>a</name><uuid>${UUID}</uuid><metadata><vifd:vifd xmlns:vifd="urn:other"><vifd:vif network="prod"/></vifd:vifd></metadata></domain>`);
    assert.equal(foreign.intent, null);
  });

  it('refuses an eighth VIF with the reason, counting every interface', () => {
    const eight = Array.from({ length: 8 }, () => vif('prod')).join('');
    assert.throws(() => planDomain(parseDomainXml(domain(eight)), config), (error: unknown) => {
      assert.ok(error instanceof LimitExceededError);
      assert.equal(error.message, 'VM "web1": asks for 8 VIFs; the limit is 7 (host default)');
      return true;
    });
    const mixed = domain(Array.from({ length: 6 }, () => vif('prod')).join(''), { interfaces: "<interface type='network'><source network='default'/></interface><interface type='user'/>" });
    assert.throws(() => planDomain(parseDomainXml(mixed), config), /asks for 8 VIFs \(6 from vifd, 2 other interfaces\); the limit is 7/);
  });

  it('takes a per-VM override up to the host maximum, and refuses past it', () => {
    const eight = Array.from({ length: 8 }, () => vif('prod')).join('');
    assert.deepEqual(planDomain(parseDomainXml(domain(eight, { limit: '8' })), config).limit, { limit: 8, source: 'vm' });
    assert.throws(() => planDomain(parseDomainXml(domain(eight, { limit: '17' })), config),
      /^LimitExceededError: VM "web1": vif-limit: the VM asks for a limit of 17 VIFs; this host allows at most 16$/);
    assert.throws(() => planDomain(parseDomainXml(domain(vif('prod'), { limit: 'lots' })), config), /VM "web1": vif-limit: "lots" is not a VIF limit/);
  });

  it('refuses an unknown network, naming the VM, the VIF and the field', () => {
    assert.throws(() => planDomain(parseDomainXml(domain(vif('prod') + vif('nope'))), config), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.equal(error.message, 'VM "web1" VIF 1: network: network "nope" is not defined on this host (known: prod, storage)');
      return true;
    });
  });

  it('refuses a bad explicit MAC, a missing network attribute and unknown kinds', () => {
    assert.throws(() => planDomain(parseDomainXml(domain(vif('prod', '01:00:5e:00:00:01'))), config), /VM "web1" VIF 0: mac: .*multicast/);
    assert.throws(() => parseDomainXml(domain('<vifd:vif/>')), /^InvalidInputError: VM "web1" VIF 0: network: <vif> needs a network attribute$/);
    assert.throws(() => parseDomainXml(domain('<vifd:vif network="prod" kind="sriov"/>')), /VIF 0: kind: kind "sriov" is not supported/);
  });

  it('never hands out an explicit MAC of the same VM as a derived one', () => {
    const plan = planDomain(parseDomainXml(domain(vif('prod') + vif('prod', '52:54:00:a1:f6:ed'))), config);
    assert.equal(plan.vifs[1]?.mac, '52:54:00:a1:f6:ed');
    assert.notEqual(plan.vifs[0]?.mac, '52:54:00:a1:f6:ed');
    assert.equal(plan.vifs[0]?.macCollisions, 1);
  });

  it('skips MACs other VMs on the host use', () => {
    const plan = planDomain(parseDomainXml(domain(vif('prod'))), config, (mac) => (mac === '52:54:00:a1:f6:ed' ? 'VM "db" (uuid)' : null));
    // sha256('<uuid>/0/1') starts 13edf1 (printf | sha256sum): the scheme's first collision candidate.
    assert.deepEqual([plan.vifs[0]?.mac, plan.vifs[0]?.macCollisions], ['52:54:00:13:ed:f1', 1]);
  });

  it('refuses an explicit MAC another VM uses, naming both VMs (invariant 6)', () => {
    const other = (mac: string): string | null => (mac === '52:54:00:12:34:56' ? 'VM "db" (1b4e28ba-2fa1-11d2-883f-0016d3cca427)' : null);
    assert.throws(() => planDomain(parseDomainXml(domain(vif('prod', '52:54:00:12:34:56'))), config, other), (error: unknown) =>
      error instanceof MacInUseError && (error as { code: string }).code === 'mac-in-use'
      && error.message === 'VM "web1" VIF 0: mac: MAC 52:54:00:12:34:56 is already used by VM "db" (1b4e28ba-2fa1-11d2-883f-0016d3cca427)');
    // Case does not hide it.
    assert.throws(() => planDomain(parseDomainXml(domain(vif('prod', '52:54:00:12:34:56'.toUpperCase()))), config, other), MacInUseError);
    assert.equal(planDomain(parseDomainXml(domain(vif('prod', '52:54:00:12:34:57'))), config, other).vifs[0]?.mac, '52:54:00:12:34:57');
  });

  it('refuses malformed or incomplete definitions clearly', () => {
    assert.throws(() => parseDomainXml('<domain><name>a</domain>'), /^InvalidInputError: domain XML: not well-formed XML at line 1: Expected closing tag 'name'/);
    assert.throws(() => parseDomainXml('<network/>'), /domain XML: no <domain> element/);
    assert.throws(() => parseDomainXml('<domain><uuid>x</uuid></domain>'), /name: the domain has no <name>/);
    assert.throws(() => parseDomainXml('<domain><name>a</name></domain>'), /VM "a": uuid: the domain has no <uuid>/);
    assert.throws(() => parseDomainXml('<domain><name>a</name><uuid>not-a-uuid</uuid></domain>'), /uuid: "not-a-uuid" is not a UUID/);
  });

  it('takes attributes as written: vlan=" 100" is refused, never trimmed into VLAN 100', () => {
    assert.throws(() => planDomain(parseDomainXml(domain('<vifd:vif network="prod" vlan=" 100"/>')), config),
      /^InvalidInputError: VM "web1" VIF 0: vlan: " 100" is not a VLAN id/);
    assert.throws(() => planDomain(parseDomainXml(domain('<vifd:vif network=" prod"/>')), config), /VIF 0: network: network " prod" is not defined/);
    assert.equal(planDomain(parseDomainXml(domain('<vifd:vif network="prod" vlan="100"/>')), config).vifs[0]?.vlan.mode, 'access');
  });

  it('refuses unknown attributes and elements by name instead of ignoring them', () => {
    assert.throws(() => parseDomainXml(domain('<vifd:vif network="prod" mtu="9000"/>')),
      /^InvalidInputError: VM "web1" VIF 0: mtu: attribute "mtu" is not supported in <vif> \(known: index, kind, mac, network, vf, vlan\)$/);
    assert.throws(() => parseDomainXml(domain('<vifd:vif network="prod"/><vifd:vlan>5</vifd:vlan>')), /VM "web1": vifd:vlan: element "vifd:vlan" is not supported in vifd's metadata/);
    assert.throws(() => parseDomainXml(domain('<vifd:vif>prod</vifd:vif>')), /VIF 0: vif: <vif> takes attributes, not text/);
    // Pretty-printed metadata (whitespace between elements) is fine.
    assert.equal(parseDomainXml(domain('\n  <vifd:vif network="prod"/>\n  ')).intent?.vifs.length, 1);
  });

  it('takes a name of spaces as libvirt does, and refuses an empty one', () => {
    assert.equal(parseDomainXml(domain(vif('prod'), { name: '   ' })).name, '   ');
    assert.throws(() => parseDomainXml(domain(vif('prod'), { name: '' })), /name: the domain has no <name>/);
  });

  it('honours the vifd namespace declared on <metadata> or <domain>', () => {
    const onDomain = `<domain type='kvm' xmlns:v="https://vifd.dev/xmlns/vifd/1"><name>a</name><uuid>${UUID}</uuid>` +
      '<metadata><v:vifd><v:vif network="prod"/></v:vifd></metadata></domain>';
    assert.deepEqual(parseDomainXml(onDomain).intent?.vifs.map((entry) => entry.network), ['prod']);
    const onMetadata = `<domain><name>a</name><uuid>${UUID}</uuid><metadata xmlns:v="https://vifd.dev/xmlns/vifd/1">` +
      '<v:vifd><v:vif network="prod"/><v:vif network="storage"/></v:vifd></metadata></domain>';
    assert.equal(parseDomainXml(onMetadata).intent?.vifs.length, 2);
    // The nearest declaration wins: a prefix redeclared on the element to another namespace is not vifd's.
    assert.equal(parseDomainXml(onMetadata.replace('<v:vifd>', '<v:vifd xmlns:v="urn:other">')).intent, null);
  });

  it('refuses a definition over 1 MiB before parsing it', () => {
    const padding = `<description>${'x'.repeat(MAX_DOMAIN_XML_BYTES)}</description>`;
    assert.throws(() => parseDomainXml(domain(vif('prod')).replace('</domain>', `${padding}</domain>`)),
      /^InvalidInputError: domain XML: the domain definition is \d+ bytes; vifd reads at most 1048576 \(1 MiB\)$/);
    const justUnder = domain(vif('prod')).replace('</domain>', `<description>${'x'.repeat(MAX_DOMAIN_XML_BYTES - 2000)}</description></domain>`);
    assert.equal(parseDomainXml(justUnder).intent?.vifs.length, 1);
  });

  it('handles hostile names and never expands DOCTYPE entities', () => {
    const hostile = `<!DOCTYPE d [<!ENTITY a "AAAAAAAAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>` +
      domain(vif('prod'), { name: `x&quot;$(reboot)&#10;&b;${'n'.repeat(300)}` });
    const plan = planDomain(parseDomainXml(hostile), config);
    assert.ok(plan.vm.name.startsWith('x"$(reboot)\n&b;'), plan.vm.name);
    assert.equal(plan.vm.name.includes('AAAA'), false);
    assert.equal(plan.vifs[0]?.device, 'vdu2vyz32zb-0', 'device names come from the UUID, never the name');
    assert.throws(() => planDomain(parseDomainXml(hostile.replace('network="prod"', 'network="nope"')), config), (error: unknown) =>
      error instanceof InvalidInputError && !error.message.includes('\n'));
  });

  it('reports interfaces that do not match the plan', () => {
    const definition = parseDomainXml(domain(vif('prod') + vif('prod'), {
      interfaces: "<interface type='ethernet'><mac address='52:54:00:00:00:01'/><target dev='vdu2vyz32zb-0'/></interface>",
    }));
    assert.deepEqual(renderedInterfaceProblems(definition, planDomain(definition, config)), [
      "VIF 0: interface vdu2vyz32zb-0 needs <target managed='no'/> (vifd creates the TAP)",
      'VIF 0: interface vdu2vyz32zb-0 has MAC 52:54:00:00:00:01, planned 52:54:00:a1:f6:ed',
      "VIF 1: no <interface> with target dev 'vdu2vyz32zb-1' (define the VM with vifctl so it is rendered)",
    ]);
  });

  it('renders interfaces from the template, and they read back as planned', () => {
    const template = readFileSync(new URL('../../../../xml-templates/tap-ethernet.xml', import.meta.url), 'utf8');
    const plan = planDomain(parseDomainXml(fixture), config);
    const rendered = plan.vifs.map((planned) => renderTapInterface(template, planned));
    assert.equal(rendered[0], "<interface type='ethernet'>\n  <mac address='52:54:00:a1:f6:ed'/>\n  <target dev='vdu2vyz32zb-0' managed='no'/>\n  <model type='virtio'/>\n  <mtu size='9000'/>\n</interface>");
    const redefined = parseDomainXml(domain(vif('prod') + vif('storage', '52:54:00:12:34:56'), { interfaces: rendered.join('') }));
    assert.deepEqual(renderedInterfaceProblems(redefined, planDomain(redefined, config)), []);
  });

  it('renders missing interfaces into <devices>, keeping the rest of the XML as written', () => {
    const template = readFileSync(new URL('../../../../xml-templates/tap-ethernet.xml', import.meta.url), 'utf8');
    for (const devices of ['<devices><!-- keep me --></devices>', '<devices/>', '']) {
      const xml = domain(vif('prod') + vif('storage')).replace('<devices></devices>', devices);
      const parsed = parseDomainXml(xml);
      const plan = planDomain(parsed, config);
      const rendered = renderDomainInterfaces(xml, parsed, plan, template);
      const reread = parseDomainXml(rendered);
      assert.deepEqual(renderedInterfaceProblems(reread, planDomain(reread, config)), [], devices);
      assert.equal(reread.interfaces.length, 2);
      if (devices.includes('keep me')) assert.ok(rendered.includes('<!-- keep me -->'));
      // Rendering again adds nothing: interfaces already there are left alone.
      assert.equal(renderDomainInterfaces(rendered, reread, planDomain(reread, config), template), rendered);
    }
  });

  it('keeps explicit VIF indexes (after a hot-unplug) and refuses one used twice', () => {
    const plan = planDomain(parseDomainXml(domain('<vifd:vif index="0" network="prod"/><vifd:vif index="2" network="prod"/>')), config);
    assert.deepEqual(plan.vifs.map((planned) => [planned.index, planned.device]), [[0, 'vdu2vyz32zb-0'], [2, 'vdu2vyz32zb-2']]);
    assert.throws(() => parseDomainXml(domain('<vifd:vif index="1" network="prod"/><vifd:vif network="prod"/>')), (error: unknown) =>
      error instanceof InvalidInputError && /VM "web1" VIF 1: index: VIF index 1 is used twice/.test(error.message));
    assert.throws(() => parseDomainXml(domain('<vifd:vif index="1000" network="prod"/>')), /VIF 0: index: 1000 is not a VIF index/);
    assert.throws(() => parseDomainXml(domain('<vifd:vif index="x" network="prod"/>')), /VIF 0: index: "x" is not a VIF index/);
  });
});
