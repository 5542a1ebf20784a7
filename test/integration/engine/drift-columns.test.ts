// Drift in every column and external_id vifd writes, against real
// ovsdb-server, ovs-vswitchd and TAPs: changed behind vifd's back with
// ovs-vsctl, it is shown in status (the rows `vifctl status` prints, with
// the field that differs) and repaired by the drift check, one column at a time.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { vifStatus } from '../../../src/daemon/status-view.js';
import { hostEffectors } from '../../../src/daemon/host-effectors.js';
import { Engine } from '../../../src/engine/engine.js';
import { OvsdbClient } from '../../../src/host/ovsdb/client.js';
import { PORT_MONITOR } from '../../../src/host/ovsdb/ports.js';
import { PortWriter } from '../../../src/host/ovsdb/port-writer.js';
import { TapDevices } from '../../../src/host/tap.js';
import type { VmSnapshot, VmSource } from '../../../src/model/contracts.js';
import { KVM_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import type { PlanSettings } from '../../../src/model/plan.js';
import { validateVlanSettings } from '../../../src/model/vlan.js';
import type { VmIntent } from '../../../src/model/vm-intent.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

type Tampering = { readonly field: string; readonly tamper: (device: string) => string[]; readonly read: (device: string) => string[] };
const column = (table: 'Port' | 'Interface', name: string, bad: string, field = name): Tampering =>
  ({ field, tamper: (d) => ['ovs-vsctl', '--timeout=10', 'set', table, d, `${name}=${bad}`], read: (d) => ['ovs-vsctl', '--timeout=10', 'get', table, d, name] });
const externalId = (table: 'Port' | 'Interface', key: string, bad: string): Tampering => ({
  field: `${table === 'Port' ? 'port ' : ''}external_ids:${key}`,
  // Quoted: a key with a colon (vifd:network) is otherwise read as key and value.
  tamper: (d) => ['ovs-vsctl', '--timeout=10', 'set', table, d, `external_ids:"${key}"="${bad}"`],
  read: (d) => ['ovs-vsctl', '--timeout=10', 'get', table, d, `external_ids:"${key}"`],
});
const link = (field: string, change: string[], show: string): Tampering =>
  ({ field, tamper: (d) => ['ip', 'link', 'set', 'dev', d, ...change], read: (d) => ['cat', `/sys/class/net/${d}/${show}`] });

/** One tampering per column, external_ids key and TAP property vifd writes, with the field status must name. */
const TAMPERINGS: readonly Tampering[] = [
  column('Port', 'tag', '5'),
  column('Port', 'trunks', '[201]'),
  column('Port', 'vlan_mode', 'native-tagged'),
  column('Interface', 'mtu_request', '1500'),
  column('Interface', 'ingress_policing_rate', '100'),
  column('Interface', 'ingress_policing_burst', '10'),
  column('Interface', 'type', 'patch'),
  externalId('Interface', 'vm-uuid', '00000000-0000-4000-8000-000000000000'),
  externalId('Interface', 'vifd:vif-index', '9'),
  externalId('Interface', 'attached-mac', '52:54:00:00:00:99'),
  externalId('Interface', 'iface-id', 'someone-else'),
  externalId('Interface', 'iface-status', 'inactive'),
  externalId('Interface', 'vifd:network', 'other'),
  externalId('Port', 'vm-uuid', '00000000-0000-4000-8000-000000000000'),
  // Not tap.mtu: ovs-vswitchd itself puts a TAP's MTU back to the port's mtu_request (tested above) at once.
  link('tap.up', ['down'], 'flags'),
  link('tap.mac', ['address', 'fe:00:00:00:00:01'], 'address'),
];

describe('integration: engine drift per column against real OVS', function () {
  this.timeout(180_000);
  const lab = new Lab();
  const taps = new TapDevices();
  let client: OvsdbClient;
  let engine: Engine;
  let device: string;
  const uuid = randomUUID();
  const readBack = new Map<string, string>();

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
    const bridge = await lab.bridge();
    client = new OvsdbClient({ monitor: PORT_MONITOR });
    await client.start();
    lab.defer('OVSDB client', () => { client.close(); return Promise.resolve(); });
    const settings: PlanSettings = {
      macPrefix: parseMacPrefix(KVM_MAC_PREFIX), vifLimit: { default: 7, max: 16 },
      networks: new Map([['prod', { bridge, vlan: validateVlanSettings({ mode: 'native-untagged', tag: 100, trunks: '200-202' }), mtu: 1400 }]]),
    };
    const intent: VmIntent = { uuid, name: 'drift-columns', vifs: [{ index: 0, kind: 'tap', network: 'prod' }], others: [] };
    const snapshot: VmSnapshot = { uuid, name: intent.name, active: true, running: () => Promise.resolve({ intent, present: new Set([0]) }), definition: () => Promise.resolve({ intent }) };
    const source: VmSource = { list: () => Promise.resolve([snapshot]), get: () => Promise.resolve(snapshot) };
    engine = new Engine({ settings, source, log: quiet, host: hostEffectors(taps, new PortWriter(client), client) });
    lab.defer('the VM\'s VIFs', async () => {
      await engine.release(() => Promise.resolve({ uuid, name: intent.name }));
      taps.close();
    });
    await engine.reconcileDomain(uuid, 'started');
    const [row] = engine.status();
    assert.equal(row?.state, 'ok', JSON.stringify(row?.problems));
    device = row.device;
    for (const { field, read } of TAMPERINGS) readBack.set(field, (await run(read(device))).trim());
  });
  after(() => lab.cleanup());

  for (const { field, tamper, read } of TAMPERINGS) {
    it(`shows and repairs ${field}`, async () => {
      await run(tamper(device));
      const deadline = Date.now() + 10_000;
      let row = vifStatus({ ...engine.status()[0]!, domain: null });
      while (!row.drift.some((drift) => drift.field === field) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        row = vifStatus({ ...engine.status()[0]!, domain: null });
      }
      assert.equal(row.state, 'drift');
      assert.ok(row.drift.some((drift) => drift.field === field), `status shows ${JSON.stringify(row.drift)}, not ${field}`);
      assert.ok(row.problems.some((problem) => problem.startsWith(`${field}: wanted `)), JSON.stringify(row.problems));
      assert.equal(await engine.repairDrift(), 1);
      assert.equal((await run(read(device))).trim(), readBack.get(field));
      assert.deepEqual(vifStatus({ ...engine.status()[0]!, domain: null }).drift, []);
    });
  }
});
