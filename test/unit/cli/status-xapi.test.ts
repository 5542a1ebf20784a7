// vifctl status on an XAPI host: XAPI's side of each XAPI VIF, and each XAPI
// VM's count, limit, XAPI's own allowed devices and what vifd blocked.
import assert from 'node:assert/strict';
import type { VifStatusRow, XapiStatus } from '../../../src/api/protocol.js';
import { xapiTables } from '../../../src/cli/status.js';

const VM = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const row: VifStatusRow = {
  domain: 'web server', uuid: VM, index: 1, network: 'xapi3', device: 'vif7.1', mac: '00:16:3e:00:00:02', bridge: 'xenbr0', vlan: 'access 100',
  tag: 100, trunks: [], mtu: 1500, kind: 'netback', state: 'ok', drift: [], problems: [], ofport: 3,
  source: 'xapi', xapi: { vifUuid: VM, network: 'VLAN 100', networkUuid: VM, currentlyAttached: true },
};
const xapi: XapiStatus = {
  state: 'synced', hostUuid: VM,
  vms: [{ uuid: VM, name: 'web server', vifCount: 8, limit: 7, limitSource: 'host', limitProblem: null, duplicateMacs: [], blocked: 'vifd: VM "web server" has 8 VIFs; the limit is 7', allowedVifDevices: [] }],
  duplicateMacs: [{ mac: '00:16:3e:00:00:02', users: [{ vmUuid: VM, vmName: 'web server', vifUuid: VM, device: 1 }, { vmUuid: VM, vmName: 'twin', vifUuid: VM, device: 0 }] }],
};

describe('cli/status: the XAPI tables', () => {
  it('shows the XAPI VIF with its XAPI network, VLAN, MAC, attachment and source, the VM\'s limit and block, and MACs used twice', () => {
    const lines = xapiTables(xapi, [row, { ...row, device: 'vif9.0', source: undefined, xapi: undefined }]).split('\n');
    assert.equal(lines[0], `XAPI (synced, host ${VM})`);
    assert.match(lines[3] ?? '', /^"web server"\s+vif7\.1\s+"VLAN 100"\s+access 100\s+00:16:3e:00:00:02\s+yes\s+xapi$/);
    assert.equal(lines.filter((line) => line.includes('vif9.0')).length, 0);
    assert.match(lines[6] ?? '', /^"web server"\s+\S+\s+8\s+7 \(host\)\s+none\s+vifd: VM "web server" has 8 VIFs; the limit is 7$/);
    assert.equal(lines.at(-1), 'MAC 00:16:3e:00:00:02 is used 2 times: "web server", twin (the first keeps it)');
  });
});
