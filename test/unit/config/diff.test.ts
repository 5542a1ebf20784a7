import assert from 'node:assert/strict';
import { describeConfigDiff, diffConfig } from '../../../src/config/diff.js';
import { parseConfigText } from '../../../src/config/schema.js';

const config = (text: string) => parseConfigText(text, 'test.yaml');

const BASE = `
networks:
  prod: { bridge: br-prod, vlan: 100, mtu: 9000 }
  storage: { bridge: br-stor, trunks: "200-202" }
  mgmt: { bridge: br-mgmt }
`;

describe('config/diff: what a reload changes', () => {
  it('finds nothing between a config and itself, nor between spellings of the same VLANs', () => {
    const diff = diffConfig(config(BASE), config(BASE.replace('"200-202"', '[200, 201, 202]').replace('vlan: 100', 'vlan: "100"')));
    assert.deepEqual(diff, { added: [], removed: [], changed: [], settings: [], needRestart: [], same: true });
    assert.equal(describeConfigDiff(diff), 'no changes');
  });

  it('names networks added, removed and changed, with the fields that changed', () => {
    const after = config(`
networks:
  prod: { bridge: br-prod, vlan: 101 }
  storage: { bridge: br-stor2, trunks: "200-203" }
  web: { bridge: br-web }
`);
    const diff = diffConfig(config(BASE), after);
    assert.deepEqual(diff.added, ['web']);
    assert.deepEqual(diff.removed, ['mgmt']);
    assert.deepEqual(diff.changed, [{ network: 'prod', fields: ['vlan', 'mtu'] }, { network: 'storage', fields: ['bridge', 'vlan'] }]);
    assert.equal(diff.same, false);
    assert.equal(describeConfigDiff(diff), 'networks added: web; networks removed: mgmt; networks changed: prod (vlan, mtu), storage (bridge, vlan)');
  });

  it('sees a VLAN mode change with the same tag', () => {
    const diff = diffConfig(config('networks: { a: { bridge: br0, vlan: 5, trunks: [6], vlan_mode: native-tagged } }'),
      config('networks: { a: { bridge: br0, vlan: 5, trunks: [6], vlan_mode: native-untagged } }'));
    assert.deepEqual(diff.changed, [{ network: 'a', fields: ['vlan'] }]);
  });

  it('says which other settings changed and which of them need a restart', () => {
    const diff = diffConfig(config(BASE), config(`${BASE}log: { level: debug }\nvif_limit: { default: 4 }\nmetrics: { listen: "127.0.0.1:9100" }\ncontrol_socket: /run/vifd/other.sock\n`));
    assert.deepEqual(diff.settings, ['vif_limit.default', 'control_socket', 'metrics.listen', 'log.level']);
    assert.deepEqual(diff.needRestart, ['control_socket', 'metrics.listen']);
    assert.match(describeConfigDiff(diff), /a restart is needed for: control_socket, metrics\.listen$/);
  });

  it('treats a MAC prefix or hypervisor change as needing a restart', () => {
    const diff = diffConfig(config('hypervisor: kvm'), config('hypervisor: xen'));
    assert.deepEqual(diff.settings, ['hypervisor', 'mac_prefix']);
    assert.deepEqual(diff.needRestart, ['hypervisor', 'mac_prefix']);
  });
});
