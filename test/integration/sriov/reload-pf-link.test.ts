// The daemon's SR-IOV wiring across a config reload (new networks get pools,
// removed ones stop being allocatable while their VFs in use stay untouched,
// changed settings apply to new assignments, exclusions at the next scan), and
// each PF's link (operstate, carrier) in status rows and vifd_sriov_pf_up; on
// the fake kernel tree with the fake PF driver.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry } from '../../../src/api/metrics.js';
import { pfTable } from '../../../src/cli/status.js';
import { validateConfig } from '../../../src/config/schema.js';
import { SriovWiring } from '../../../src/daemon/sriov.js';
import type { EngineLog } from '../../../src/engine/types.js';
import { SriovSysfs } from '../../../src/host/sriov/sysfs.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import { FakeSriovKernel } from '../../harness/fake-sysfs/kernel.js';

const quiet: EngineLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const PF1 = parsePciAddress('0000:01:00.0');
const PF2 = parsePciAddress('0000:02:00.0');
const PF3 = parsePciAddress('0000:03:00.0');
const VM = 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b';
const owner = (vifIndex: number) => ({ vmUuid: VM, vifIndex });

describe('integration: the daemon\'s SR-IOV wiring across a reload, and its PFs\' links', function () {
  this.timeout(20_000);
  let kernel: FakeSriovKernel;
  let dir: string;

  beforeEach(async () => {
    kernel = await FakeSriovKernel.create();
    await kernel.addPf({ address: PF1, netdev: 'enp1s0', totalVfs: 7, numVfs: 3 });
    await kernel.addPf({ address: PF2, netdev: 'enp2s0', totalVfs: 7, numVfs: 2 });
    await kernel.addPf({ address: PF3, netdev: 'enp3s0', totalVfs: 7, numVfs: 2 });
    dir = await mkdtemp(join(tmpdir(), 'vifd-sriov-reload-'));
  });
  afterEach(async () => {
    await kernel.remove();
    await rm(dir, { recursive: true, force: true });
  });

  const wiringFor = (networks: Record<string, unknown>): SriovWiring => {
    const wiring = SriovWiring.fromConfig(validateConfig({ networks }), quiet, { sysfs: new SriovSysfs(kernel.root, kernel), netlink: kernel.netlink, snapshotDir: join(dir, 'sriov') });
    assert.ok(wiring !== null);
    return wiring;
  };
  const rowsOf = (wiring: SriovWiring, network: string) => wiring.rows().filter((row) => row.network === network).map((row) => `${row.index} ${row.state}${row.reason === undefined ? '' : ` (${row.reason})`}`);

  it('shows each PF\'s operstate and carrier (null while down) in status rows, the table and vifd_sriov_pf_up', async () => {
    const wiring = wiringFor({ fast: { vlan: 100, sriov: { pfs: ['enp1s0', PF2] } } });
    await wiring.refresh(null);
    assert.deepEqual(await wiring.pfRows(), [
      { network: 'fast', pf: PF1, pfName: 'enp1s0', operstate: 'up', carrier: true, up: true },
      { network: 'fast', pf: PF2, pfName: 'enp2s0', operstate: 'up', carrier: true, up: true }]);
    await kernel.setPfLink(PF1, { adminUp: true, carrier: false });
    await kernel.setPfLink(PF2, { adminUp: false, carrier: false });
    const rows = await wiring.pfRows();
    assert.deepEqual(rows.map((row) => [row.pfName, row.operstate, row.carrier, row.up]), [['enp1s0', 'down', false, false], ['enp2s0', 'down', null, false]]);
    assert.deepEqual(pfTable(rows).split('\n').map((line) => line.trim().split(/\s+/).join(' ')), [
      'NETWORK PF ADDRESS LINK OPERSTATE CARRIER', 'fast enp1s0 0000:01:00.0 DOWN down no', 'fast enp2s0 0000:02:00.0 DOWN down -']);
    const registry = new MetricsRegistry();
    wiring.registerMetrics(registry);
    await kernel.setPfLink(PF2, { adminUp: true, carrier: true });
    await registry.collect();
    const text = await registry.render();
    assert.match(text, /vifd_sriov_pf_up\{network="fast",pf="enp1s0"\} 0/);
    assert.match(text, /vifd_sriov_pf_up\{network="fast",pf="enp2s0"\} 1/);
    wiring.close();
  });

  it('a reload: new networks get pools, changed settings apply to new VFs, excluded and removed VFs in use are kept untouched until released', async () => {
    const wiring = wiringFor({ fast: { vlan: 100, sriov: { pfs: ['enp1s0'] } }, slow: { sriov: { pfs: ['enp2s0'] } } });
    await wiring.refresh(null);
    const fastVf = wiring.vfs.claim('fast', owner(0)).address;
    await wiring.vfs.assign('fast', owner(0), '52:54:00:00:00:10', fastVf);
    const slowVf = wiring.vfs.claim('slow', owner(1)).address;
    await wiring.vfs.assign('slow', owner(1), '52:54:00:00:00:11', slowVf);
    assert.throws(() => wiring.vfs.claim('extra', owner(2)), /network extra has no VF pool/);

    wiring.reload(validateConfig({ networks: {
      fast: { vlan: 100, sriov: { pfs: ['enp1s0'], exclude: [0], spoofchk: false } },
      extra: { sriov: { pfs: ['enp3s0'] } },
    } }));
    await wiring.refresh(null);
    assert.deepEqual(rowsOf(wiring, 'fast'), ['0 attached (out of the pool since a reload; kept until released)', '1 free', '2 free']);
    assert.deepEqual(rowsOf(wiring, 'slow'), ['0 attached (out of the pool since a reload; kept until released)']);
    assert.equal(kernel.netlink.vf('enp1s0', 0).mac, '52:54:00:00:00:10', 'a VF in use is never reset');
    assert.equal(kernel.netlink.vf('enp2s0', 0).mac, '52:54:00:00:00:11');
    assert.throws(() => wiring.vfs.claim('fast', owner(5), fastVf), /VF 0000:01:10.0 is no longer in its pool/);
    assert.throws(() => wiring.vfs.claim('slow', owner(5)), /network slow has no VF pool/);
    assert.equal(wiring.vfs.claim('extra', owner(2)).address, kernel.vf(PF3, 0), 'a network added by the reload allocates');
    const next = wiring.vfs.claim('fast', owner(3));
    assert.equal(next.address, kernel.vf(PF1, 1));
    await wiring.vfs.assign('fast', owner(3), '52:54:00:00:00:13', next.address);
    assert.equal(kernel.netlink.vf('enp1s0', 1).spoofchk, false, 'the reloaded settings apply to a new assignment');
    assert.equal(wiring.vfs.claim('fast', owner(0)).address, fastVf, 'its holder keeps a retired VF (a reconcile plans it again)');

    await wiring.vfs.release('fast', owner(0));
    await wiring.vfs.release('slow', owner(1));
    assert.equal(kernel.netlink.vf('enp2s0', 0).mac, '00:00:00:00:00:00', 'released VFs are restored as usual');
    await wiring.refresh(null);
    assert.deepEqual(rowsOf(wiring, 'fast'), ['1 attached', '2 free'], 'a released VF that the config excludes leaves the pool');
    assert.deepEqual(rowsOf(wiring, 'slow'), [], 'a removed network\'s pool goes with its last VF');
    wiring.close();
  });
});
