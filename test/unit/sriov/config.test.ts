import assert from 'node:assert/strict';
import { assertInvalidInput } from '../model/assert-invalid.js';
import { DEFAULT_VF_SETTINGS, isExcluded, parseSriovConfig } from '../../../src/model/sriov/config.js';
import { parsePciAddress, pciAddressParts } from '../../../src/model/sriov/pci.js';
import type { VlanSettings } from '../../../src/model/vlan.js';

const NONE: VlanSettings = { mode: 'none' };
const NET = 'networks.sriovnet';
const parse = (raw: unknown, vlan: VlanSettings = NONE): ReturnType<typeof parseSriovConfig> => parseSriovConfig(raw, vlan, NET);

describe('model/sriov/config: the sriov block of a network', () => {
  it('reads PFs by netdev and PCI address, exclusions, defaults and the driver', () => {
    const config = parse({
      pfs: ['enp3s0f0', '0000:03:00.1'], exclude: [0, '0000:03:10.2'], num_vfs: 8,
      spoofchk: false, trust: true, link_state: 'disable', max_tx_rate: 1000, min_tx_rate: 100, vf_driver: 'pciback',
    }, { mode: 'access', tag: 100 });
    assert.deepEqual(config, {
      pfs: [{ kind: 'netdev', name: 'enp3s0f0' }, { kind: 'pci', address: '0000:03:00.1' }],
      exclude: [{ kind: 'index', index: 0 }, { kind: 'pci', address: '0000:03:10.2' }],
      numVfs: 8,
      defaults: { spoofchk: false, trust: true, linkState: 'disable', maxTxRate: 1000, minTxRate: 100 },
      vfDriver: 'pciback',
      vlan: 100,
    });
  });

  it('fills defaults: spoofchk on, trust off, link_state auto, no rate limit, vfio-pci, untagged', () => {
    assert.deepEqual(parse({ pfs: ['eth0'] }), { pfs: [{ kind: 'netdev', name: 'eth0' }], exclude: [], defaults: DEFAULT_VF_SETTINGS, vfDriver: 'vfio-pci' });
    assert.deepEqual(DEFAULT_VF_SETTINGS, { spoofchk: true, trust: false, linkState: 'auto', maxTxRate: 0, minTxRate: 0 });
  });

  it('normalizes PCI addresses to lowercase', () => {
    assert.deepEqual(parse({ pfs: ['0000:0A:00.0'] }).pfs, [{ kind: 'pci', address: '0000:0a:00.0' }]);
  });

  it('refuses trunks and native VLAN modes, naming the network field', () => {
    assertInvalidInput(() => parse({ pfs: ['eth0'] }, { mode: 'trunk', trunks: [10, 20] }), /one access VLAN; trunks are not supported/, `${NET}.trunks`);
    assertInvalidInput(() => parse({ pfs: ['eth0'] }, { mode: 'native-untagged', tag: 5 }), /vlan_mode native-untagged is not supported/, `${NET}.vlan_mode`);
  });

  const bad: [unknown, RegExp, string][] = [
    [undefined, /expected a mapping/, `${NET}.sriov`],
    [{ pfs: ['eth0'], bogus: 1 }, /unknown key "bogus"/, `${NET}.sriov`],
    [{}, /is required/, `${NET}.sriov.pfs`],
    [{ pfs: [] }, /lists no PF/, `${NET}.sriov.pfs`],
    [{ pfs: 'eth0' }, /expected a list/, `${NET}.sriov.pfs`],
    [{ pfs: ['eth0', 'eth0'] }, /PF eth0 is listed twice/, `${NET}.sriov.pfs`],
    [{ pfs: ['this-name-is-too-long'] }, /./, `${NET}.sriov.pfs[0]`],
    [{ pfs: ['eth0'], exclude: [-1] }, /outside 0-65534/, `${NET}.sriov.exclude[0]`],
    [{ pfs: ['eth0'], exclude: ['0000:03:20.0'] }, /is not a PCI address/, `${NET}.sriov.exclude[0]`],
    [{ pfs: ['eth0'], exclude: [true] }, /expected a VF index or a VF's PCI address/, `${NET}.sriov.exclude[0]`],
    [{ pfs: ['eth0'], link_state: 'up' }, /is not one of auto, enable, disable/, `${NET}.sriov.link_state`],
    [{ pfs: ['eth0'], spoofchk: 'yes' }, /expected true or false/, `${NET}.sriov.spoofchk`],
    [{ pfs: ['eth0'], max_tx_rate: 1.5 }, /expected an integer/, `${NET}.sriov.max_tx_rate`],
    [{ pfs: ['eth0'], max_tx_rate: 10, min_tx_rate: 20 }, /20 is above max_tx_rate \(10\)/, `${NET}.sriov.min_tx_rate`],
    [{ pfs: ['eth0'], num_vfs: 0 }, /outside 1-65535/, `${NET}.sriov.num_vfs`],
    [{ pfs: ['eth0'], vf_driver: '../x' }, /is not a kernel driver name/, `${NET}.sriov.vf_driver`],
  ];
  for (const [raw, pattern, field] of bad) {
    it(`refuses ${JSON.stringify(raw)} naming ${field}`, () => assertInvalidInput(() => parse(raw), pattern, field));
  }

  it('a min rate with no max limit is fine', () => assert.equal(parse({ pfs: ['eth0'], min_tx_rate: 50 }).defaults.minTxRate, 50));

  it('excludes by index on any PF and by address', () => {
    const rules = parse({ pfs: ['eth0'], exclude: [2, '0000:03:10.4'] }).exclude;
    assert.equal(isExcluded(rules, 2, parsePciAddress('0000:03:10.0')), true);
    assert.equal(isExcluded(rules, 1, parsePciAddress('0000:03:10.4')), true);
    assert.equal(isExcluded(rules, 1, parsePciAddress('0000:03:10.2')), false);
  });
});

describe('model/sriov/pci: PCI addresses', () => {
  it('splits an address into its parts', () => {
    assert.deepEqual(pciAddressParts(parsePciAddress('0000:01:1f.7')), { domain: 0, bus: 1, slot: 31, function: 7 });
  });
  for (const input of ['0000:01:20.0', '01:10.0', '0000:01:10.8', '0000:01:10.0 ', 7]) {
    it(`refuses ${JSON.stringify(input)}`, () => assertInvalidInput(() => parsePciAddress(input, 'f'), /is not a PCI address/, 'f'));
  }
});
