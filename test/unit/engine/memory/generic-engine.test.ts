// The engine with a source and a VIF kind it has never heard of, both in
// memory and both defined in this folder: prepare, release, reconcile, drift,
// GC and the VIF limit work through them, which is what lets XAPI, Xen's
// hotplug scripts and SR-IOV VFs arrive as new files plus wiring.
import assert from 'node:assert/strict';
import { Engine } from '../../../../src/engine/engine.js';
import { LimitExceededError, MacInUseError } from '../../../../src/model/errors.js';
import { quietLog, settings } from '../fakes.js';
import { MemoryHost, memoryDevice, memoryKinds } from './memory-kind.js';
import { MemorySource } from './memory-source.js';

const VM_A = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const VM_B = '9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11';

describe('engine: an in-memory source and an in-memory VIF kind, wired in', () => {
  let host: MemoryHost;
  let source: MemorySource;
  let engine: Engine;

  beforeEach(() => {
    host = new MemoryHost();
    source = new MemorySource();
    engine = new Engine({ settings, source, log: quietLog, kinds: memoryKinds(host) });
  });

  it('prepares through the kind: one link per VIF, with planned MACs, shown as ok', async () => {
    source.add(VM_A, 'web1', [{ network: 'prod' }, { network: 'stor', mac: '52:54:00:12:34:56' }]);
    const verdict = await engine.prepare(source.starting(VM_A));
    assert.deepEqual(verdict.vifs.map((vif) => [vif.device, vif.bridge]), [[memoryDevice(VM_A, 0), 'br-prod'], [memoryDevice(VM_A, 1), 'br-stor']]);
    assert.equal(host.links.get(memoryDevice(VM_A, 1))?.mac, '52:54:00:12:34:56');
    assert.deepEqual(engine.status().map((vif) => [vif.device, vif.state, vif.observed?.kind]), [
      [memoryDevice(VM_A, 0), 'ok', 'memory'], [memoryDevice(VM_A, 1), 'ok', 'memory']]);
  });

  it('keeps the engine\'s rules for any kind: the VIF limit and a MAC never shared', async () => {
    source.add(VM_A, 'big', Array.from({ length: 8 }, () => ({ network: 'prod' })));
    await assert.rejects(engine.prepare(source.starting(VM_A)), LimitExceededError);
    source.add(VM_A, 'web1', [{ network: 'prod', mac: '52:54:00:aa:bb:cc' }]);
    await engine.prepare(source.starting(VM_A));
    source.add(VM_B, 'db', [{ network: 'prod', mac: '52:54:00:aa:bb:cc' }]);
    await assert.rejects(engine.prepare(source.starting(VM_B)), (error: unknown) => error instanceof MacInUseError && /used by VM "web1"/.test(error.message));
    assert.deepEqual([...host.links.keys()], [memoryDevice(VM_A, 0)]);
  });

  it('releases through the kind', async () => {
    source.add(VM_A, 'web1', [{ network: 'prod' }, { network: 'prod' }]);
    await engine.prepare(source.starting(VM_A));
    await engine.release(() => Promise.resolve({ uuid: VM_A, name: 'web1' }));
    assert.equal(host.links.size, 0);
    assert.equal(host.deletes, 2);
  });

  it('reconciles a running VM from its source, shows drift as typed records and repairs it', async () => {
    source.add(VM_A, 'web1', [{ network: 'prod' }], true);
    await engine.reconcileDomain(VM_A, 'started');
    const link = host.links.get(memoryDevice(VM_A, 0));
    assert.ok(link !== undefined, 'a running VM is plugged without a prepare');
    const planned = link.mac;
    link.mac = '52:54:00:00:00:01';
    const [report] = engine.status();
    assert.equal(report?.state, 'drift');
    assert.deepEqual(report.drift, [{ field: 'link.mac', wanted: planned, seen: '52:54:00:00:00:01' }]);
    assert.equal(await engine.repairDrift(), 1);
    assert.equal(host.links.get(memoryDevice(VM_A, 0))?.mac, planned);
    assert.deepEqual(engine.status().map((vif) => vif.state), ['ok']);
  });

  it('removes the VIFs of a VM its source says stopped', async () => {
    source.add(VM_A, 'web1', [{ network: 'prod' }], true);
    await engine.reconcileDomain(VM_A, 'started');
    const vm = source.vms.get(VM_A);
    if (vm !== undefined) vm.active = false;
    await engine.reconcileDomain(VM_A, 'stopped');
    assert.equal(host.links.size, 0);
  });

  it('collects orphans the source no longer knows, and only those', async () => {
    source.add(VM_A, 'web1', [{ network: 'prod' }], true);
    await engine.reconcileAll('start');
    host.links.set(memoryDevice(VM_B, 0), { vmUuid: VM_B, index: 0, mac: '52:54:00:00:00:02', network: 'prod' });
    const dry = await engine.gc({ dryRun: true });
    assert.deepEqual(dry.map((report) => [report.device, report.state]), [[memoryDevice(VM_B, 0), 'orphan']]);
    assert.equal(host.links.size, 2, 'a dry run removes nothing');
    await engine.gc({ dryRun: false });
    assert.deepEqual([...host.links.keys()], [memoryDevice(VM_A, 0)]);
  });
});
