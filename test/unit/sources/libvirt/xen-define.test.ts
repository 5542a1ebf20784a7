// `vifctl define` for a Xen domain (libvirt's libxl driver), as data with no
// libvirt: bridge interfaces that run vifd's Xen hotplug script, the VLAN as
// <vlan> (the driver turns it into BRIDGE.TAG / BRIDGE:T1:T2), derived MACs
// with Xen's prefix 00:16:3e (KVM domains keep 52:54:00), explicit MACs kept,
// a second define that changes nothing, and refusals naming the field.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderDefinition } from '../../../../src/cli/define.js';
import { parseConfigText } from '../../../../src/config/schema.js';
import { InvalidInputError } from '../../../../src/model/errors.js';
import { KVM_MAC_PREFIX, XEN_MAC_PREFIX, macCandidate, macPrefixForDomain, parseMacPrefix } from '../../../../src/model/mac.js';
import { parseDomainXml } from '../../../../src/sources/libvirt/domain-xml.js';
import { domainIntent } from '../../../../src/sources/libvirt/intent.js';

const UUID = '6f1e2c3a-8b4d-4e5f-9a0b-1c2d3e4f5a6b';
const config = parseConfigText(`${readFileSync('test/fixtures/vifd.yaml', 'utf8')}  native: { bridge: br-nat, vlan_mode: native-untagged, vlan: 10, trunks: "20" }\n`, 'test config');

const domain = (type: string, vifs: string, devices = ''): string => `<domain type='${type}'>
  <name>xen1</name>
  <uuid>${UUID}</uuid>
  <memory unit='MiB'>512</memory>
  <metadata>
    <vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">${vifs}</vifd:vifd>
  </metadata>
  <os><type>xen</type></os>
  <devices>${devices}</devices>
</domain>`;
const TWO_VIFS = '<vifd:vif network="prod"/><vifd:vif network="storage" mac="00:16:3e:12:34:56"/>';

describe('vifctl define: a Xen domain (libvirt libxl driver)', () => {
  it('renders bridge interfaces with vif-vifd, the VLAN as <vlan>, and Xen-prefixed derived MACs', () => {
    const { plan, xml } = renderDefinition(domain('xen', TWO_VIFS), config);
    const derived = macCandidate(UUID, 0, parseMacPrefix(XEN_MAC_PREFIX), 0);
    assert.deepEqual(plan.vifs.map((vif) => [vif.mac, vif.macSource]), [[derived, 'derived'], ['00:16:3e:12:34:56', 'explicit']]);
    const parsed = parseDomainXml(xml);
    assert.deepEqual(parsed.interfaces.map((entry) => [entry.type, entry.mac, entry.sourceBridge, entry.virtualport, entry.script, entry.vlanTrunk, entry.vlanTags.map((tag) => tag.id), entry.targetDev]), [
      ['bridge', derived, 'br-prod', 'openvswitch', 'vif-vifd', false, ['100'], undefined],
      ['bridge', '00:16:3e:12:34:56', 'br-stor', 'openvswitch', 'vif-vifd', true, ['200', '201', '202'], undefined],
    ]);
    assert.ok(xml.includes(`<interface type='bridge'>\n      <mac address='${derived}'/>\n      <source bridge='br-prod'/>`), xml);
    assert.equal(domainIntent(parsed).others.length, 0, 'vifd\'s own Xen interfaces are not counted twice');
    assert.equal(renderDefinition(xml, config).xml, xml, 'a second define changes nothing');
  });

  it('keeps KVM domains as they were: ethernet TAP interfaces, prefix 52:54:00', () => {
    const { plan, xml } = renderDefinition(domain('kvm', TWO_VIFS.replace('00:16:3e:12:34:56', '52:54:00:12:34:56')), config);
    assert.ok(plan.vifs[0]?.mac.startsWith(`${KVM_MAC_PREFIX}:`));
    assert.equal(parseDomainXml(xml).interfaces.every((entry) => entry.type === 'ethernet' && entry.script === undefined), true);
    assert.equal(macPrefixForDomain('kvm', parseMacPrefix(KVM_MAC_PREFIX)).text, KVM_MAC_PREFIX);
  });

  it('a prefix the operator chose is kept for Xen domains too', () => {
    assert.equal(macPrefixForDomain('xen', parseMacPrefix('02:aa')).text, '02:aa');
    assert.equal(macPrefixForDomain('xen', parseMacPrefix(KVM_MAC_PREFIX)).text, XEN_MAC_PREFIX);
  });

  it('refuses a native VLAN, which the libxl driver cannot pass, naming the VIF and field', () => {
    assert.throws(() => renderDefinition(domain('xen', '<vifd:vif network="native"/>'), config), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.equal(error.context.field, 'vlan');
      assert.equal(error.context.vifIndex, 0);
      assert.match(error.message, /VLAN mode native-untagged cannot be given to a Xen domain/);
      return true;
    });
  });

  it('refuses a hand-written vif-vifd interface that disagrees with the plan', () => {
    const { plan } = renderDefinition(domain('xen', '<vifd:vif network="prod"/>'), config);
    const mac = plan.vifs[0]?.mac ?? '';
    const wrong = `<interface type='bridge'><mac address='${mac}'/><source bridge='br-other'/><script path='vif-vifd'/></interface>`;
    assert.throws(() => renderDefinition(domain('xen', '<vifd:vif network="prod"/>', wrong), config),
      /VIF 0: interface .* is on bridge br-other, planned br-prod; VIF 0: interface .* has VLAN "", planned "100"/);
  });
});
