// The engine against an in-memory host and domain source: prepare, rollback,
// release, reconcile and GC decisions, with no switch, kernel or libvirt.
import assert from 'node:assert/strict';
import { Engine } from '../../../src/engine/engine.js';
import { PlugError } from '../../../src/engine/types.js';
import type { EngineMetrics } from '../../../src/engine/types.js';
import { LimitExceededError, MacInUseError } from '../../../src/model/errors.js';
import { deviceName } from '../../../src/model/names.js';
import { FakeDomains, FakeHost, prepareXml, releaseXml, VM_A, VM_B, domainXml, quietLog, settings } from './fakes.js';

describe('engine: prepare, release, reconcile and GC against an in-memory host', () => {
  let host: FakeHost;
  let domains: FakeDomains;
  let engine: Engine;
  let plugs: string[];
  let errors: number;
  let collisions: number;

  beforeEach(() => {
    host = new FakeHost();
    domains = new FakeDomains();
    plugs = [];
    errors = 0;
    collisions = 0;
    const metrics: EngineMetrics = {
      plugSeconds: (_, outcome) => { plugs.push(outcome); }, reconcileErrors: (count) => { errors += count; },
      orphansRemoved: () => undefined, macCollisions: (count) => { collisions += count; },
    };
    engine = new Engine({ settings, source: domains, host, log: quietLog, metrics });
  });

  it('prepares every VIF: TAP marked with its owner, port on its bridge and VLAN', async () => {
    const verdict = await prepareXml(engine, domainXml(VM_A, 'web1', ['prod', 'stor']));
    assert.deepEqual(verdict.vifs.map((vif) => [vif.index, vif.device, vif.bridge]), [[0, deviceName(VM_A, 0), 'br-prod'], [1, deviceName(VM_A, 1), 'br-stor']]);
    assert.equal(host.tapsByName.get(deviceName(VM_A, 0))?.alias, `vifd:${VM_A}/0`);
    assert.equal(host.portsByName.get(deviceName(VM_A, 1))?.externalIds['vifd:network'], 'stor');
    assert.deepEqual(plugs, ['ok']);
    assert.deepEqual(engine.status().map((vif) => [vif.domain, vif.state]), [['web1', 'ok'], ['web1', 'ok']]);
  });

  it('refuses an 8th VIF and touches nothing', async () => {
    await assert.rejects(prepareXml(engine, domainXml(VM_A, 'big', Array<string>(8).fill('prod'))), (error: unknown) =>
      error instanceof LimitExceededError && /VM "big": asks for 8 VIFs; the limit is 7/.test(error.message));
    assert.equal(host.tapsByName.size + host.portsByName.size, 0);
    assert.deepEqual(plugs, ['refused']);
  });

  it('refuses an explicit MAC another running VM uses, naming both VMs, and counts it', async () => {
    const shared = '52:54:00:aa:bb:cc';
    await prepareXml(engine, domainXml(VM_A, 'web1', ['prod'], { macs: [shared] }));
    await assert.rejects(prepareXml(engine, domainXml(VM_B, 'db', ['stor', 'prod'], { macs: [undefined, shared] })), (error: unknown) =>
      error instanceof MacInUseError && error.message === `VM "db" VIF 1: mac: MAC ${shared} is already used by VM "web1" (${VM_A})`);
    assert.equal(collisions, 1);
    assert.deepEqual([...host.tapsByName.keys()], [deviceName(VM_A, 0)], 'nothing of the refused VM was made');
    // Seen through the switch too: a restarted daemon knows the MAC from the port's attached-mac.
    const restarted = new Engine({ settings, source: domains, host, log: quietLog });
    await assert.rejects(prepareXml(restarted, domainXml(VM_B, 'db', ['prod'], { macs: [shared] })), MacInUseError);
    await releaseXml(engine, domainXml(VM_A, 'web1', ['prod'], { macs: [shared] }));
    assert.equal((await prepareXml(restarted, domainXml(VM_B, 'db', ['prod'], { macs: [shared] }))).vifs[0]?.mac, shared);
  });

  it('lets only one of two VMs starting at once take the same explicit MAC', async () => {
    const shared = '52:54:00:aa:bb:cd';
    // web1's queue is busy (a reconcile, say): its prepare is planned now and runs later.
    let release = (): void => undefined;
    const busy = engine.inVmQueue(VM_A, () => new Promise<void>((resolve) => { release = resolve; }));
    const first = prepareXml(engine, domainXml(VM_A, 'web1', ['prod'], { macs: [shared] }));
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(prepareXml(engine, domainXml(VM_B, 'db', ['prod'], { macs: [shared] })), MacInUseError);
    release();
    await busy;
    assert.equal((await first).vifs[0]?.mac, shared);
    assert.equal([...host.portsByName.values()].filter((port) => port.externalIds['attached-mac'] === shared).length, 1);
  });

  it('refuses a definition whose VIFs were not rendered, naming the VIF', async () => {
    await assert.rejects(prepareXml(engine, domainXml(VM_A, 'raw', ['prod'], { render: false })), /VM "raw": VIF 0: no <interface> with target dev/);
    assert.equal(host.tapsByName.size, 0);
  });

  it('rolls back everything of a prepare when one port fails', async () => {
    host.failPort = deviceName(VM_A, 1);
    await assert.rejects(prepareXml(engine, domainXml(VM_A, 'web1', ['prod', 'prod', 'prod'])), (error: unknown) =>
      error instanceof PlugError && /VM "web1": could not plug 1 VIF step\(s\); rolled back: VM 3f2504e0.* VIF 1: bridge: /.test(error.message));
    assert.deepEqual([...host.tapsByName.keys(), ...host.portsByName.keys()], []);
    assert.deepEqual(plugs, ['failed']);
  });

  it('keeps a prepared domain\'s VIFs until it starts, and drops them on release', async () => {
    const xml = domainXml(VM_A, 'web1', ['prod']);
    await prepareXml(engine, xml);
    domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: false, xml });
    await engine.reconcileDomain(VM_A, 'defined');
    assert.equal(host.portsByName.size, 1, 'a reconcile between prepare and start must not remove the VIFs');
    await releaseXml(engine, xml);
    assert.equal(host.portsByName.size + host.tapsByName.size, 0);
  });

  it('removes a stopped domain\'s VIFs and leaves other VMs\' alone', async () => {
    const a = domainXml(VM_A, 'web1', ['prod']);
    const b = domainXml(VM_B, 'db1', ['prod']);
    await prepareXml(engine, a);
    await prepareXml(engine, b);
    domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: true, xml: a });
    domains.domains.set(VM_B, { uuid: VM_B, name: 'db1', active: true, xml: b });
    await engine.reconcileAll('started');
    assert.equal(host.portsByName.size, 2);
    domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: false, xml: a });
    await engine.reconcileAll('web1 stopped');
    assert.deepEqual([...host.portsByName.keys()], [deviceName(VM_B, 0)]);
  });

  it('repairs drift of a running domain: a lost tag, a vanished TAP', async () => {
    const xml = domainXml(VM_A, 'web1', ['prod', 'prod']);
    await prepareXml(engine, xml);
    domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: true, xml });
    const port = host.portsByName.get(deviceName(VM_A, 0));
    assert.ok(port !== undefined);
    host.portsByName.set(port.name, { ...port, tag: null, vlanMode: null });
    host.tapsByName.delete(deviceName(VM_A, 1));
    await engine.reconcileDomain(VM_A, 'test');
    assert.equal(host.portsByName.get(deviceName(VM_A, 0))?.tag, 100);
    assert.ok(host.tapsByName.has(deviceName(VM_A, 1)));
    assert.deepEqual(host.removedPorts, [deviceName(VM_A, 1)], 'the recreated TAP\'s port is re-added so ovs-vswitchd opens the new device');
    assert.deepEqual(engine.status().map((vif) => vif.state), ['ok', 'ok']);
  });

  it('leaves a running VM\'s VIFs alone when it can no longer be planned', async () => {
    const xml = domainXml(VM_A, 'web1', ['prod']);
    await prepareXml(engine, xml);
    domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: true, xml: xml.replace('network="prod"', 'network="gone"') });
    await engine.reconcileDomain(VM_A, 'test');
    assert.equal(host.portsByName.size, 1);
    assert.equal(errors, 1);
  });

  it('gc --dry-run reports orphans and removes nothing; gc removes them', async () => {
    await prepareXml(engine, domainXml(VM_A, 'web1', ['prod']));
    await releaseXml(engine, domainXml(VM_B, 'never-prepared', []));
    // vifd restarted: it remembers nothing, the host still holds VM_A's VIF and VM_A is gone.
    engine = new Engine({ settings, source: domains, host, log: quietLog });
    const dry = await engine.gc({ dryRun: true });
    assert.deepEqual(dry.map((report) => [report.device, report.state]), [[deviceName(VM_A, 0), 'orphan']]);
    assert.equal(host.portsByName.size, 1);
    const done = await engine.gc({ dryRun: false });
    assert.equal(done.length, 1);
    assert.equal(host.portsByName.size + host.tapsByName.size, 0);
  });

  it('coalesces reconcile requests for one domain that arrive while one runs', async () => {
    const xml = domainXml(VM_A, 'web1', ['prod']);
    domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: true, xml });
    let applied = 0;
    const ensure = host.ports.ensure;
    host.ports.ensure = (spec) => { applied++; host.portsByName.delete(spec.name); return ensure(spec); };
    await Promise.all([1, 2, 3, 4, 5].map(() => engine.reconcileDomain(VM_A, 'burst')));
    assert.ok(applied >= 1 && applied < 5, `applied ${applied} times for 5 requests`);
  });

  it('repairDrift reconciles only the running domains whose VIFs drifted', async () => {
    const a = domainXml(VM_A, 'web1', ['prod']);
    const b = domainXml(VM_B, 'db1', ['prod']);
    for (const [uuid, name, xml] of [[VM_A, 'web1', a], [VM_B, 'db1', b]] as const) {
      domains.domains.set(uuid, { uuid, name, active: true, xml });
      await engine.reconcileDomain(uuid, 'started');
    }
    assert.equal(await engine.repairDrift(), 0);
    const gets = domains.gets;
    assert.equal(await engine.repairDrift(), 0);
    assert.equal(domains.gets, gets, 'no drift: libvirt is not asked');
    const port = host.portsByName.get(deviceName(VM_B, 0));
    assert.ok(port !== undefined);
    host.portsByName.set(port.name, { ...port, tag: 4000 });
    assert.equal(await engine.repairDrift(), 1);
    assert.equal(domains.gets, gets + 1, 'only the drifted VM is looked up');
    assert.equal(host.portsByName.get(port.name)?.tag, 100);
  });

  it('re-plugs the NIC of a TAP recreated under a running VM, and only that one', async () => {
    const replugged: string[] = [];
    engine = new Engine({ settings, source: domains, host, log: quietLog });
    domains.useReplug((_uuid, _name, vifs) => {
      replugged.push(...vifs.map((vif) => vif.device));
      return Promise.resolve();
    });
    const xml = domainXml(VM_A, 'web1', ['prod', 'prod']);
    await prepareXml(engine, xml);
    domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: true, xml });
    await engine.reconcileDomain(VM_A, 'started');
    assert.deepEqual(replugged, [], 'nothing was recreated');
    host.tapsByName.delete(deviceName(VM_A, 1));
    await engine.reconcileDomain(VM_A, 'drift');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(replugged, [deviceName(VM_A, 1)]);
  });
});
