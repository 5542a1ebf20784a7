import assert from 'node:assert/strict';
import { DEFAULT_VF_SETTINGS } from '../../../src/model/sriov/config.js';
import { attributeReadsBack, restoreAttributes, wantedVfAttributes } from '../../../src/model/sriov/vf-settings.js';
import type { VfNetConfig } from '../../../src/model/sriov/vf-settings.js';

const seen: VfNetConfig = { index: 0, mac: '52:54:00:00:00:01', vlan: 100, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 0 };

describe('model/sriov/vf-settings: wanted attributes and read-back', () => {
  it('sets MAC and VLAN first, then the defaults; only default values may be skipped by a driver without the op', () => {
    assert.deepEqual(wantedVfAttributes({ ...DEFAULT_VF_SETTINGS, linkState: 'enable', maxTxRate: 100 }, '52:54:00:AA:00:01', 100).map((w) => [w.value.kind, w.skipIfUnsupported]), [
      ['mac', false], ['vlan', false], ['spoofchk', false], ['trust', true], ['link-state', false], ['rate', false],
    ]);
    assert.deepEqual(wantedVfAttributes(DEFAULT_VF_SETTINGS, '52:54:00:aa:00:01', undefined).map((w) => [w.value.kind, w.skipIfUnsupported]), [
      ['mac', false], ['vlan', false], ['spoofchk', false], ['trust', true], ['link-state', true], ['rate', true],
    ]);
    assert.deepEqual(wantedVfAttributes(DEFAULT_VF_SETTINGS, '52:54:00:AA:00:01', undefined)[1]?.value, { kind: 'vlan', vlan: 0, qos: 0, protocol: '802.1Q' }, 'no VLAN is set as VLAN 0 (cleared), not left');
  });

  it('reads back only what the driver shows; an unreported flag never reads back', () => {
    assert.equal(attributeReadsBack({ kind: 'mac', mac: '52:54:00:00:00:01' }, seen), true);
    assert.equal(attributeReadsBack({ kind: 'vlan', vlan: 100, qos: 1, protocol: '802.1Q' }, seen), false);
    assert.equal(attributeReadsBack({ kind: 'vlan', vlan: 0, qos: 0, protocol: '802.1ad' }, { ...seen, vlan: 0 }), true, 'an untagged VF has no protocol to compare');
    assert.equal(attributeReadsBack({ kind: 'trust', on: false }, { ...seen, trust: undefined }), false);
    assert.equal(attributeReadsBack({ kind: 'rate', minTxRate: 0, maxTxRate: 0 }, seen), true);
  });

  it('restores every attribute the snapshot holds, skipping none the driver did not report', () => {
    const partial: VfNetConfig = { index: 0, mac: seen.mac, vlan: 0, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false };
    assert.deepEqual(restoreAttributes(partial).map((w) => w.value.kind), ['mac', 'vlan', 'spoofchk', 'trust']);
    assert.deepEqual(restoreAttributes(seen).map((w) => w.value.kind), ['mac', 'vlan', 'spoofchk', 'trust', 'link-state', 'rate']);
  });
});
