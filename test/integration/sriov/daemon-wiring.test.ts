// The daemon's SR-IOV wiring: pools built from the config file's sriov blocks
// (on the fake kernel tree; the PF driver's rtnetlink side is the fake),
// libvirt's running guests' VFs read from a real libvirt (test:///default
// starts hostdev domains), the per-VF status rows, their table, and metrics.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry } from '../../../src/api/metrics.js';
import { vfTable } from '../../../src/cli/status.js';
import { validateConfig } from '../../../src/config/schema.js';
import { SriovWiring, runningVfFacts } from '../../../src/daemon/sriov.js';
import type { EngineLog } from '../../../src/engine/types.js';
import { SriovSysfs } from '../../../src/host/sriov/sysfs.js';
import { LibvirtConnection, openHandles } from '../../../src/libvirt/connection.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import { FakeSriovKernel } from '../../harness/fake-sysfs/kernel.js';
import { uniqueName } from '../../harness/names.js';

const quiet: EngineLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const UUID = '7e3f9a64-2b5c-4d8e-9f0a-1b2c3d4e5f60';

describe('integration: the daemon\'s SR-IOV wiring', function () {
  this.timeout(20_000);
  let kernel: FakeSriovKernel;
  let stateDir: string;

  beforeEach(async () => {
    kernel = await FakeSriovKernel.create();
    await kernel.addPf({ address: parsePciAddress('0000:01:00.0'), netdev: 'enp1s0', totalVfs: 7, numVfs: 3 });
    stateDir = await mkdtemp(join(tmpdir(), 'vifd-sriov-wiring-'));
  });
  afterEach(async () => {
    await kernel.remove();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('builds one pool per SR-IOV network, none without; status rows, table and metrics show every VF', async () => {
    assert.equal(SriovWiring.fromConfig(validateConfig({ networks: { prod: { bridge: 'br0' } } }), quiet), null);
    const config = validateConfig({ networks: { prod: { bridge: 'br0' }, fast: { vlan: 100, sriov: { pfs: ['enp1s0'], exclude: [2] } } } });
    await writeFile(join(stateDir, 'boot_id'), 'b\n');
    const wiring = SriovWiring.fromConfig(config, quiet, { sysfs: new SriovSysfs(kernel.root, kernel), netlink: kernel.netlink, snapshotDir: join(stateDir, 'sriov') });
    assert.ok(wiring !== null);
    await wiring.refresh(null);
    wiring.vfs.claim('fast', { vmUuid: UUID, vifIndex: 0 });
    assert.deepEqual(wiring.rows().map((row) => [row.network, row.pfName, row.index, row.state, row.owner?.index ?? null]), [['fast', 'enp1s0', 0, 'reserved', 0], ['fast', 'enp1s0', 1, 'free', null]]);
    assert.deepEqual(vfTable(wiring.rows()).split('\n').map((line) => line.split(/\s+/).slice(0, 5).join(' ')), [
      'NETWORK PF VF ADDRESS STATE', 'fast enp1s0 0 0000:01:10.0 reserved', 'fast enp1s0 1 0000:01:10.2 free']);
    wiring.vfs.claim('fast', { vmUuid: UUID, vifIndex: 1 });
    assert.throws(() => wiring.vfs.claim('fast', { vmUuid: UUID, vifIndex: 2 }), /no free VF on enp1s0 \(0000:01:00.0\) 0 of 2 free/);
    const registry = new MetricsRegistry();
    wiring.registerMetrics(registry);
    await registry.collect();
    const text = await registry.render();
    assert.match(text, /vifd_sriov_vfs\{network="fast",pf="enp1s0",state="reserved"\} 2/);
    assert.match(text, /vifd_sriov_vfs\{network="fast",pf="enp1s0",state="free"\} 0/);
    assert.match(text, /vifd_sriov_alloc_failures\{network="fast",reason="exhausted"\} 1/);
    wiring.close();
  });

  it('reads which VFs running guests have from libvirt: vifd\'s VIFs by their metadata, others as foreign', async () => {
    const connection = await LibvirtConnection.open({ uri: 'test:///default' });
    const name = uniqueName('domain');
    const hostdev = (fn: number) => `<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:0${fn}'/><source><address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x${fn}'/></source></interface>`;
    try {
      await connection.defineDomain(`<domain type='test'><name>${name}</name><uuid>${UUID}</uuid><memory>65536</memory><os><type>hvm</type></os>
        <metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1"><vifd:vif index="3" network="fast" vf="0000:01:10.2"/></vifd:vifd></metadata>
        <devices>${hostdev(2)}${hostdev(4)}</devices></domain>`, { validate: true });
      assert.deepEqual(await runningVfFacts(connection), { runningUsers: new Map(), foreignUse: new Map() }, 'a defined, stopped guest has no VF');
      await connection.startDomain({ name });
      const facts = await runningVfFacts(connection);
      assert.deepEqual([...facts.runningUsers ?? []], [['0000:01:10.2', { vmUuid: UUID, vifIndex: 3 }]]);
      assert.deepEqual([...facts.foreignUse ?? []], [['0000:01:10.4', `in domain "${name}", not vifd's`]]);
      await connection.destroyDomain({ name });
    } finally {
      await connection.undefineDomain({ name }).catch(() => undefined);
      await connection.close();
    }
    assert.equal(openHandles(), 0);
  });
});
