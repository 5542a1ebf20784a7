import assert from 'node:assert/strict';
import { formatInfo, formatUptime } from '../../../src/cli/info.js';
import { describeInfo, infoHandler } from '../../../src/daemon/info.js';
import { parseConfigText } from '../../../src/config/schema.js';

const CONFIG = parseConfigText(`
control_socket: /run/vifd/x.sock
metrics: { listen: "[::1]:9100" }
networks:
  prod: { bridge: br-prod, vlan: 100, mtu: 9000 }
  lab: { bridge: br-lab, trunks: "10-12" }
`, 'test.yaml');

describe('daemon/info and vifctl info', () => {
  const inputs = {
    version: '1.2.3', startedAtMs: Date.parse('2026-01-01T00:00:00Z'), now: () => Date.parse('2026-01-01T01:00:05.900Z'),
    config: () => CONFIG, libvirt: () => 'connecting' as const, ovsdb: () => 'connected' as const,
    bridgeExists: (bridge: string) => bridge === 'br-prod',
    vifStates: () => [{ state: 'ok' }, { state: 'ok' }, { state: 'orphan' }],
  };

  it('builds the info result from plain inputs', async () => {
    const info = describeInfo(inputs);
    assert.deepEqual({ ...info, node: '', pid: 0 }, {
      version: '1.2.3', node: '', pid: 0, startedAt: '2026-01-01T00:00:00.000Z', uptimeSeconds: 3605, hypervisor: 'kvm',
      controlSocket: '/run/vifd/x.sock', libvirt: { uri: 'qemu:///system', state: 'connecting' },
      ovsdb: { socket: '/var/run/openvswitch/db.sock', state: 'connected' }, metrics: { listen: '[::1]:9100' },
      networks: [
        { name: 'prod', bridge: 'br-prod', vlan: 'access 100', mtu: 9000, bridgeExists: true },
        { name: 'lab', bridge: 'br-lab', vlan: 'trunk 10-12', mtu: null, bridgeExists: false },
      ],
      vifs: { ok: 2, orphan: 1 },
    });
    assert.equal(info.node, process.version);
    assert.deepEqual(await infoHandler(inputs)({}), info);
  });

  it('formats uptime without leading zero units', () => {
    assert.deepEqual([0, 59, 60, 3605, 93_784].map(formatUptime), ['0s', '59s', '1m 0s', '1h 0m 5s', '1d 2h 3m 4s']);
  });

  it('shows an unknown bridge state as unknown, not as missing', () => {
    const text = formatInfo(describeInfo({ ...inputs, bridgeExists: () => null, vifStates: () => [] }), '1.2.3');
    assert.match(text, /^prod\s+br-prod\s+access 100\s+9000\s+unknown \(OVSDB not connected\)$/m);
    assert.match(text, /^VIFs: none$/m);
    assert.match(formatInfo(describeInfo({ ...inputs, config: () => parseConfigText('', 'x') }), '1'), /networks: none configured$/);
  });
});
