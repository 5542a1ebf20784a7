import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { assertInvalidInput } from '../model/assert-invalid.js';
import { HOSTDEV_TEMPLATE, renderHostdevInterface } from '../../../src/model/sriov/render.js';
import type { HostdevVif } from '../../../src/model/sriov/render.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';

const template = readFileSync(HOSTDEV_TEMPLATE, 'utf8');
const vif = (extra: Partial<HostdevVif> = {}): HostdevVif => ({ mac: '52:54:00:9B:D9:10', address: parsePciAddress('0000:01:10.2'), driver: 'vfio', ...extra });

describe('model/sriov/render: the hostdev interface XML (golden)', () => {
  it('a VF with an access VLAN', () => {
    assert.equal(renderHostdevInterface(template, vif({ vlan: 100 })), [
      "<interface type='hostdev' managed='yes'>",
      "  <mac address='52:54:00:9b:d9:10'/>",
      "  <driver name='vfio'/>",
      '  <source>',
      "    <address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x2'/>",
      '  </source>',
      '  <vlan>',
      "    <tag id='100'/>",
      '  </vlan>',
      '</interface>',
    ].join('\n'));
  });

  it('an untagged VF for Xen (libxl, pciback) on another PCI domain', () => {
    assert.equal(renderHostdevInterface(template, vif({ address: parsePciAddress('00a1:ff:1f.7'), driver: 'xen' })), [
      "<interface type='hostdev' managed='yes'>",
      "  <mac address='52:54:00:9b:d9:10'/>",
      "  <driver name='xen'/>",
      '  <source>',
      "    <address type='pci' domain='0x00a1' bus='0xff' slot='0x1f' function='0x7'/>",
      '  </source>',
      '</interface>',
    ].join('\n'));
  });

  it('refuses what must not reach libvirt', () => {
    assertInvalidInput(() => renderHostdevInterface(template, vif({ mac: "52:54:00:00:00:01' evil='" })), /is not a MAC address/, 'mac');
    assertInvalidInput(() => renderHostdevInterface(template, vif({ vlan: 4095 })), /outside 1-4094/, 'vlan');
    assertInvalidInput(() => renderHostdevInterface(template, vif({ address: '0000:01:10.2/../x' as never })), /is not a PCI address/, 'vf address');
    assertInvalidInput(() => renderHostdevInterface(template, vif({ driver: 'kvm' as never })), /is not a hostdev driver/, 'driver');
  });
});
