// vifd's own XAPI client (src/xapi) against the simulator, over TCP and over
// the unix socket: the same scenarios the xen-api contract test proves the
// simulator with, seen from vifd's side (client, event watcher, record cache).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XapiClient } from '../../../src/xapi/client.js';
import { XapiError, XapiTransportError } from '../../../src/xapi/errors.js';
import { parseEndpoint } from '../../../src/xapi/transport.js';
import { XapiEventWatcher } from '../../../src/xapi/watcher.js';
import type { XapiBatch } from '../../../src/xapi/watcher.js';
import { XapiSimulator } from '../../harness/xapi-sim/simulator.js';
import type { SimListener } from '../../harness/xapi-sim/server.js';
import { eventually } from '../../harness/xapi-sim/xen-api.js';

const CREDENTIALS = { username: 'root', password: 'secret' };

for (const transport of ['tcp', 'unix'] as const) {
  describe(`integration: vifd's XAPI client over ${transport}`, function () {
    this.timeout(20_000);
    let sim: XapiSimulator;
    let listener: SimListener;
    let dir: string;
    let client: XapiClient;
    let watcher: XapiEventWatcher | null = null;
    let batches: XapiBatch[];

    const endpoint = (target = listener): string => (target.transport === 'tcp' ? target.url : `unix:${target.url}`);
    const newClient = (target = listener): XapiClient => new XapiClient({
      endpoint: parseEndpoint(endpoint(target)), credentials: transport === 'tcp' ? CREDENTIALS : undefined,
    });
    const watch = async (): Promise<XapiEventWatcher> => {
      watcher = new XapiEventWatcher(client, {
        onBatch: (batch) => { batches.push(batch); }, pollTimeoutS: 30, reconnectInitialMs: 20, reconnectMaxMs: 200,
      });
      watcher.start();
      await watcher.synced();
      return watcher;
    };
    const resyncReasons = (): string[] => batches.flatMap((batch) => (batch.kind === 'resync' ? [batch.reason] : []));

    beforeEach(async () => {
      sim = new XapiSimulator();
      dir = mkdtempSync(join(tmpdir(), 'vifd-xapi-'));
      listener = transport === 'tcp' ? await sim.listenTcp() : await sim.listenUnix(join(dir, 'xapi'));
      client = newClient();
      batches = [];
    });
    afterEach(async () => {
      await watcher?.stop();
      watcher = null;
      await client.logout();
      client.close();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('logs in, calls with the session, fetches records, and lists methods without a session', async () => {
      const vm = sim.addVm({ name: 'web' });
      const session = await client.login();
      assert.match(session, /^OpaqueRef:/);
      assert.equal(await client.call('VM.get_name_label', vm.ref), 'web');
      const vms = await client.getAllRecords('VM');
      assert.equal(vms.get(vm.ref)?.uuid, vm.uuid);
      const methods = await client.callWithoutSession('system.listMethods');
      assert.ok(Array.isArray(methods) && methods.includes('VIF.get_all_records'));
    });

    it("carries XAPI's error code and params in an XapiError", async () => {
      await assert.rejects(client.call('VM.get_record', 'OpaqueRef:nope'), (error: unknown) => {
        assert.ok(error instanceof XapiError);
        assert.equal(error.xapiCode, 'HANDLE_INVALID');
        assert.deepEqual(error.params, ['VM', 'OpaqueRef:nope']);
        assert.equal(error.method, 'VM.get_record');
        return true;
      });
      await assert.rejects(client.call('VM.start', 'OpaqueRef:x'), { xapiCode: 'MESSAGE_PARAMETER_COUNT_MISMATCH', params: ['VM.start', '4', '2'] });
      await assert.rejects(client.call('VM.fly'), { xapiCode: 'MESSAGE_METHOD_UNKNOWN', params: ['VM.fly'] });
    });

    if (transport === 'tcp') {
      it('refuses a wrong password with SESSION_AUTHENTICATION_FAILED', async () => {
        const wrong = new XapiClient({ endpoint: parseEndpoint(endpoint()), credentials: { username: 'root', password: 'no' } });
        await assert.rejects(wrong.login(), { xapiCode: 'SESSION_AUTHENTICATION_FAILED' });
        wrong.close();
      });
    }

    it('loads every watched class into the cache, then follows add, mod and del', async () => {
      const net = sim.addNetwork({ name: 'net0', bridge: 'xenbr0' });
      sim.addVlanNetwork({ name: 'v100', bridge: 'xapi1', parent: net.ref, tag: 100 });
      const w = await watch();
      assert.deepEqual(resyncReasons(), ['start']);
      assert.equal(w.cache.size('host'), 2);
      assert.equal(w.cache.size('VLAN'), 2);
      assert.equal(w.cache.size('PIF'), 4);
      assert.equal(w.cache.byUuid('network', net.uuid)?.record.bridge, 'xenbr0');
      const vm = sim.addVm({ name: 'late' });
      const vif = sim.addVif(vm.ref, net.ref, 0);
      await eventually('the VIF added', () => w.cache.get('VIF', vif.ref) !== undefined);
      await client.call('VM.add_to_blocked_operations', vm.ref, 'start', 'vifd: 8 VIFs, limit 7');
      await eventually('blocked_operations', () => (w.cache.get('VM', vm.ref)?.blocked_operations as Record<string, string>).start === 'vifd: 8 VIFs, limit 7');
      await client.call('VIF.destroy', vif.ref);
      await eventually('the VIF removed', () => w.cache.get('VIF', vif.ref) === undefined);
      const events = batches.flatMap((batch) => (batch.kind === 'events' ? batch.events : []));
      assert.ok(events.some((event) => event.className === 'VIF' && event.operation === 'add' && event.ref === vif.ref));
      assert.ok(events.some((event) => event.className === 'VIF' && event.operation === 'del' && event.snapshot === undefined));
      assert.ok(events.some((event) => event.className === 'VM' && event.operation === 'mod'));
    });

    it('the calls a later XAPI source makes: limit advice, blocked_operations, VIF.create/plug, pool_migrate', async () => {
      sim.vifDevices = 7;
      const net = sim.addNetwork({ name: 'net0', bridge: 'xenbr0' });
      const vm = sim.addVm({ name: 'big' });
      for (let device = 0; device < 7; device += 1) sim.addVif(vm.ref, net.ref, device);
      assert.deepEqual(await client.call('VM.get_allowed_VIF_devices', vm.ref), []);
      await client.call('VM.set_blocked_operations', vm.ref, { start: 'vifd: 8 VIFs', start_on: 'vifd: 8 VIFs' });
      await client.call('VM.remove_from_blocked_operations', vm.ref, 'start_on');
      await assert.rejects(client.call('VM.start', vm.ref, false, false), { xapiCode: 'OPERATION_BLOCKED', params: [vm.ref, 'vifd: 8 VIFs'] });
      await assert.rejects(client.call('VM.add_to_blocked_operations', vm.ref, 'start', 'again'), { xapiCode: 'MAP_DUPLICATE_KEY', params: ['VM', 'blocked_operations', vm.uuid, 'start'] });
      await client.call('VM.remove_from_blocked_operations', vm.ref, 'start');
      await client.call('VM.start', vm.ref, false, false);
      const vif = await client.call('VIF.create', {
        device: '7', network: net.ref, VM: vm.ref, MAC: '', MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
      });
      assert.equal(typeof vif, 'string');
      assert.equal(await client.call('VIF.get_currently_attached', vif), false);
      await client.call('VIF.plug', vif);
      assert.equal(await client.call('VIF.get_currently_attached', vif), true);
      await client.call('VM.pool_migrate', vm.ref, sim.host(1).ref, {});
      assert.equal(await client.call('VM.get_resident_on', vm.ref), sim.host(1).ref);
    });

    it('EVENTS_LOST: a full resync with a fresh token', async () => {
      const w = await watch();
      const injects = sim.calls.filter((call) => call === 'event.inject').length;
      sim.loseEvents();
      await eventually('a resync', () => resyncReasons().includes('events-lost'));
      assert.equal(sim.calls.filter((call) => call === 'event.inject').length, injects + 1);
      const vm = sim.addVm({ name: 'after' });
      await eventually('events again', () => w.cache.get('VM', vm.ref) !== undefined);
    });

    it('session expiry: one new login, the call retried, then a resync', async () => {
      const w = await watch();
      sim.expireSessions();
      assert.equal(await client.call('pool.get_name_label', sim.pool.ref), 'vifd-sim');
      assert.equal(client.loginCount, 2);
      await eventually('a resync', () => resyncReasons().includes('session-renewed'));
      const vm = sim.addVm({ name: 'after' });
      await eventually('events again', () => w.cache.get('VM', vm.ref) !== undefined);
    });

    it('a restart with new refs: reconnect, login, resync; the cache holds only the new refs', async () => {
      const vm = sim.addVm({ name: 'survivor' });
      const w = await watch();
      sim.restart();
      const newRef = sim.handle('VM', vm.uuid).ref;
      await eventually('a resync', () => resyncReasons().length === 2);
      assert.equal(w.cache.get('VM', newRef)?.uuid, vm.uuid);
      assert.equal(w.cache.get('VM', vm.ref), undefined);
      assert.equal(w.cache.byUuid('VM', vm.uuid)?.ref, newRef);
      assert.equal(client.loginCount, 2);
    });

    it('XAPI down for a while: retries with backoff, then a resync when it is back', async () => {
      const failures: unknown[] = [];
      client.close();
      client = newClient();
      watcher = new XapiEventWatcher(client, {
        onBatch: (batch) => { batches.push(batch); }, reconnectInitialMs: 20, reconnectMaxMs: 100,
        log: { error: () => undefined, info: () => undefined, debug: () => undefined, warn: (_message, fields) => { failures.push(fields?.delayMs); } },
      });
      watcher.start();
      await watcher.synced();
      assert.equal(watcher.state, 'synced');
      await sim.closeListener(listener);
      await eventually('retries', () => failures.length >= 3);
      assert.equal(watcher.state, 'recovering');
      assert.ok(watcher.lastError instanceof XapiTransportError);
      assert.deepEqual(failures.slice(0, 3), [20, 40, 80]);
      listener = transport === 'tcp' ? await sim.listenTcp('127.0.0.1', listener.port) : await sim.listenUnix(listener.address);
      await eventually('a resync', () => resyncReasons().includes('reconnected'));
      assert.equal(watcher.state, 'synced');
      assert.equal(watcher.lastError, null);
      const vm = sim.addVm({ name: 'back' });
      await eventually('events again', () => watcher?.cache.get('VM', vm.ref) !== undefined);
    });

    it('stops promptly during a long poll', async () => {
      const w = await watch();
      await eventually('a poll in flight', () => sim.calls.at(-1) === 'event.from');
      const started = Date.now();
      await w.stop();
      watcher = null;
      assert.ok(Date.now() - started < 1000);
      assert.equal(w.state, 'stopped');
    });

    it('synced() rejects when stopped before the first resync', async () => {
      const unreachable = new XapiClient({ endpoint: parseEndpoint('unix:/nonexistent/xapi') });
      const w = new XapiEventWatcher(unreachable, { onBatch: () => undefined, reconnectInitialMs: 10 });
      w.start();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await w.stop();
      await assert.rejects(w.synced(), /stopped before the first resync/);
      unreachable.close();
    });

    if (transport === 'tcp') {
      it('HOST_IS_SLAVE at login: goes to the master, same scheme and port', async () => {
        const member = await sim.listenTcp('127.0.0.2', listener.port);
        member.actAsSlave('127.0.0.1');
        client.close();
        client = newClient(member);
        await watch();
        assert.equal(client.endpoint.kind === 'url' && client.endpoint.url.host, `127.0.0.1:${listener.port}`);
      });

      it('HOST_IS_SLAVE after a master change: the watcher reconnects to the new master and resyncs', async () => {
        const first = await sim.listenTcp('127.0.0.2', listener.port);
        client.close();
        client = newClient(first);
        const w = await watch();
        first.actAsSlave('127.0.0.1');
        await eventually('a resync on the master', () => resyncReasons().length === 2);
        assert.equal(client.endpoint.kind === 'url' && client.endpoint.url.hostname, '127.0.0.1');
        const vm = sim.addVm({ name: 'after' });
        await eventually('events from the master', () => w.cache.get('VM', vm.ref) !== undefined);
      });
    }
  });
}
