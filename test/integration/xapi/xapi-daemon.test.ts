// The XAPI source in the daemon as wired (src/daemon/daemon.ts, config
// `xapi:`), following the wire-level simulator over its unix socket, against
// the host's real ovsdb-server and ovs-vswitchd with bridges of its own. The
// simulator's xenopsd stand-in makes the vifD.N TAPs netback would make; no
// vif script runs, so every port here is the XAPI source's doing.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { callControl } from '../../../src/api/control-client.js';
import type { AttachResult, DetachResult, StatusResult } from '../../../src/api/protocol.js';
import type { HostConfig } from '../../../src/config/schema.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { XEN_MAC_PREFIX, macCandidate, parseMacPrefix } from '../../../src/model/mac.js';
import { parseXapiConfig } from '../../../src/xapi/config.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { createTap, deleteLink, linkExists } from '../../harness/net.js';
import { uniqueName } from '../../harness/names.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { asText } from '../../harness/xapi-sim/schema.js';
import type { Handle } from '../../harness/xapi-sim/simulator.js';
import { XapiSimulator } from '../../harness/xapi-sim/simulator.js';
import type { SimVifView, SimVmView } from '../../harness/xapi-sim/xenopsd.js';
import { until } from '../../harness/until.js';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const vsctl = async (...args: string[]): Promise<string> => (await run(['ovs-vsctl', '--timeout=10', ...args])).trim();
const GUARDED = ['pool_migrate', 'resume', 'start', 'start_on'];

describe('integration: the XAPI source in the daemon (simulator, real OVS)', function () {
  this.timeout(120_000);
  const lab = new Lab();
  const sim = new XapiSimulator({ vifDevices: 7, firstDomid: randomInt(20_000, 30_000), hosts: [{ name: 'host-a', address: '127.0.0.1' }] });
  /** netback's devices: made at plug, removed at unplug unless a test keeps them (to show XAPI, not the device, decides). */
  let keepDevices = false;
  /** VMs whose devices xenopsd's vif script reports to vifd (the xen-hotplug method), as on a real XAPI host. */
  const viaHook = new Set<string>();
  let bridge: string;
  let fakeBridge: string;
  let socket: string;
  let plain: Handle;
  let vlan: Handle;

  const device = (vm: SimVmView, vif: SimVifView): string => `vif${vm.domid}.${vif.device}`;
  const hotplug = async (action: 'plug' | 'unplug', vm: SimVmView, vif: SimVifView): Promise<unknown> => callControl(socket, 'xen-hotplug', {
    version: 1, toolstack: 'xenopsd', command: action === 'plug' ? 'online' : 'remove', action,
    device: { name: device(vm, vif), type: 'vif', domid: vm.domid, devid: vif.device }, vm: { uuid: vm.uuid, name: asText(vm.record.name_label) },
    ...(action === 'plug' ? { mac: asText(vif.record.MAC), bridge: { bridge: asText(vif.networkRecord.bridge) }, mtu: Number(vif.record.MTU),
      xapi: { vifUuid: vif.uuid, networkUuid: asText(vif.networkRecord.uuid) } } : {}),
  });
  const ports = async (): Promise<string[]> => `${await vsctl('list-ports', bridge)}\n${await vsctl('list-ports', fakeBridge)}`.split('\n').filter((name) => name.startsWith('vif'));
  const status = async (): Promise<StatusResult> => await callControl(socket, 'status') as StatusResult;
  const blocked = (vm: Handle): Record<string, string> => sim.record('VM', vm.uuid).blocked_operations as Record<string, string>;
  const domid = (vm: Handle): number => Number(sim.record('VM', vm.uuid).domid);
  const vmWith = (name: string, vifs: number, network: Handle, macs: readonly string[] = []): Handle => {
    const vm = sim.addVm({ name });
    for (let n = 0; n < vifs; n++) sim.addVif(vm.ref, network.ref, n, macs[n] === undefined ? {} : { mac: macs[n] });
    return vm;
  };

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
    bridge = await lab.bridge();
    fakeBridge = uniqueName('bridge');
    lab.defer(`fake bridge ${fakeBridge}`, async () => { await run(['ovs-vsctl', '--timeout=10', '--if-exists', 'del-br', fakeBridge]); });
    await vsctl('add-br', fakeBridge, bridge, '100');
    sim.hooks = {
      onVifPlug: async (vm, vif) => {
        const name = device(vm, vif);
        lab.defer(`TAP ${name}`, () => deleteLink(name));
        await createTap(name);
        if (viaHook.has(vm.uuid)) await hotplug('plug', vm, vif);
      },
      onVifUnplug: async (vm, vif) => {
        if (viaHook.has(vm.uuid)) await hotplug('unplug', vm, vif);
        if (!keepDevices) await deleteLink(device(vm, vif));
      },
    };
    plain = sim.addNetwork({ name: 'Pool-wide network', bridge });
    vlan = sim.addVlanNetwork({ name: 'VLAN 100', bridge: fakeBridge, parent: plain.ref, tag: 100 });
    const xapiSocket = lab.scratchPath('xapi.sock');
    await sim.listenUnix(xapiSocket);
    lab.defer('XAPI simulator', () => sim.stop());
    socket = lab.scratchPath('vifd.sock');
    const config: HostConfig = {
      hypervisor: 'xen', macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 },
      ovsdb: { socket: '/var/run/openvswitch/db.sock' }, libvirt: { uri: 'test:///default' }, controlSocket: socket,
      stateDir: lab.scratchPath('state'), metrics: { listen: { host: '127.0.0.1', port: 0 } }, log: { level: 'error' }, networks: new Map(),
      xapi: parseXapiConfig({ transport: `unix:${xapiSocket}`, host_uuid: sim.host(0).uuid }),
    };
    const daemon = await Daemon.start(config, quiet);
    lab.defer('vifd', () => daemon.stop());
    await until('vifd to follow XAPI', async () => (await status()).xapi?.state === 'synced');
  });
  after(() => lab.cleanup());

  it('plugs a started VM\'s VIFs on a plain and a VLAN (fake bridge) network; status shows XAPI\'s view', async () => {
    const vm = vmWith('web', 1, plain);
    sim.addVif(vm.ref, vlan.ref, 1);
    await sim.actions.start(vm.ref, null);
    const [first, second] = [`vif${domid(vm)}.0`, `vif${domid(vm)}.1`];
    await until('both ports', async () => { const names = await ports(); return names.includes(first) && names.includes(second); });
    assert.equal(await vsctl('get', 'Port', second, 'tag'), '100');
    assert.equal(await vsctl('port-to-br', second), fakeBridge);
    assert.equal(await vsctl('get', 'Port', first, 'tag'), '[]');
    const vifUuid = String(sim.record('VM', vm.uuid).VIFs && sim.store.text('VIF', (sim.record('VM', vm.uuid).VIFs as string[])[0], 'uuid'));
    const ids = await vsctl('get', 'Interface', first, 'external_ids');
    for (const pair of [`xs-vm-uuid="${vm.uuid}"`, `xs-vif-uuid="${vifUuid}"`, `xs-network-uuid="${plain.uuid}"`, 'xen-vm-name=web']) assert.ok(ids.includes(pair), `${pair} in ${ids}`);
    const shown = await status();
    const rows = shown.vifs.filter((row) => row.uuid === vm.uuid);
    assert.deepEqual(rows.map((row) => [row.device, row.source, row.xapi?.network, row.xapi?.currentlyAttached, row.vlan, row.state]),
      [[first, 'xapi', 'Pool-wide network', true, 'untagged', 'ok'], [second, 'xapi', 'VLAN 100', true, 'access 100', 'ok']]);
    assert.equal(rows[0]?.mac, sim.store.text('VIF', (sim.record('VM', vm.uuid).VIFs as string[])[0], 'MAC'));
    const view = shown.xapi?.vms.find((row) => row.uuid === vm.uuid);
    assert.deepEqual(view && [view.vifCount, view.limit, view.blocked, view.allowedVifDevices], [2, 7, null, ['2', '3', '4', '5', '6']]);
  });

  it('blocks the start of a VM with 8 VIFs, and lets it start with 8 after an override', async () => {
    const vm = vmWith('eight', 8, plain);
    const reason = await until('vifd\'s block', () => Promise.resolve(blocked(vm).start));
    assert.equal(reason, 'vifd: VM "eight" has 8 VIFs; the limit is 7 (host default; set VM.other_config:vifd-vif-limit to change it)');
    assert.deepEqual(Object.keys(blocked(vm)).sort(), GUARDED);
    await assert.rejects(sim.actions.start(vm.ref, null), (error: unknown) => error instanceof Error && error.message.includes('OPERATION_BLOCKED'));
    sim.store.update('VM', vm.ref, (record) => { record.other_config = { ...record.other_config as Record<string, string>, 'vifd-vif-limit': '8' }; });
    await until('the block to go', () => Promise.resolve(Object.keys(blocked(vm)).length === 0));
    await sim.actions.start(vm.ref, null);
    const prefix = `vif${domid(vm)}.`;
    await until('8 ports', async () => (await ports()).filter((name) => name.startsWith(prefix)).length === 8);
  });

  it('keeps an operator\'s own block, and blocks a VM whose MAC another VM of the pool uses', async () => {
    const eight = sim.record('VM', sim.store.refs('VM').map((ref) => sim.store.text('VM', ref, 'uuid')).find((uuid) => sim.record('VM', uuid).name_label === 'eight') ?? '');
    const taken = sim.store.text('VIF', (eight.VIFs as string[])[3], 'MAC');
    const twin = vmWith('twin', 1, plain, [taken]);
    sim.store.update('VM', twin.ref, (record) => { record.blocked_operations = { start: 'maintenance' }; });
    await until('vifd\'s block on the rest', () => Promise.resolve(Object.keys(blocked(twin)).length === 4));
    assert.deepEqual(blocked(twin), {
      start: 'maintenance', ...Object.fromEntries(['start_on', 'resume', 'pool_migrate'].map((op) => [op, `vifd: VM "twin" has MAC ${taken}, which VM "eight" uses`])),
    });
    const shown = await status();
    assert.deepEqual(shown.xapi?.duplicateMacs.map((dup) => [dup.mac, dup.users.map((user) => user.vmName)]), [[taken, ['eight', 'twin']]]);
    sim.store.update('VIF', (sim.record('VM', twin.uuid).VIFs as string[])[0], (record) => { record.MAC = '00:16:3e:12:34:56'; });
    await until('vifd\'s entries to go', () => Promise.resolve(Object.keys(blocked(twin)).length === 1));
    assert.deepEqual(blocked(twin), { start: 'maintenance' });
  });

  it('removes a halted VM\'s ports even while its devices linger', async () => {
    const web = sim.handle('VM', sim.store.refs('VM').map((ref) => sim.store.text('VM', ref, 'uuid')).find((uuid) => sim.record('VM', uuid).name_label === 'web') ?? '');
    const prefix = `vif${domid(web)}.`;
    keepDevices = true;
    await sim.actions.shutdown(web.ref, 'hard_shutdown');
    await until('the halted VM\'s ports to go', async () => !(await ports()).some((name) => name.startsWith(prefix)));
    assert.ok(await linkExists(`${prefix}0`), 'the device is still there: XAPI, not the device, said the VM is gone');
    keepDevices = false;
  });

  it('plans the Xen hook\'s plugs of an XAPI VM with its own limit, and keeps them through XAPI\'s reconciles', async () => {
    const vm = vmWith('hooked', 8, plain);
    sim.store.update('VM', vm.ref, (record) => { record.other_config = { ...record.other_config as Record<string, string>, 'vifd-vif-limit': '8' }; });
    viaHook.add(vm.uuid);
    await sim.actions.start(vm.ref, null);
    const prefix = `vif${domid(vm)}.`;
    assert.equal((await ports()).filter((name) => name.startsWith(prefix)).length, 8, 'all 8 plugged by the hook, the 8th under the override');
    await callControl(socket, 'reconcile');
    const rows = (await status()).vifs.filter((row) => row.uuid === vm.uuid);
    assert.deepEqual(rows.map((row) => [row.state, row.source]), Array.from({ length: 8 }, () => ['ok', 'xapi']));
    await sim.actions.shutdown(vm.ref, 'clean_shutdown');
    assert.equal((await ports()).filter((name) => name.startsWith(prefix)).length, 0, 'unplugged by the hook');
  });

  it('attaches through XAPI (next allowed device, vifd\'s MAC), rolls back a refused plug, and detaches', async () => {
    const vm = vmWith('plugged', 1, plain);
    await sim.actions.start(vm.ref, null);
    const prefix = `vif${domid(vm)}.`;
    const attached = await callControl(socket, 'attach', { domain: 'plugged', network: 'VLAN 100' }) as AttachResult;
    assert.deepEqual(attached, {
      domain: 'plugged', uuid: vm.uuid, index: 1, device: `${prefix}1`, mac: macCandidate(vm.uuid, 1, parseMacPrefix(XEN_MAC_PREFIX), 0), bridge, vlan: 'access 100', persistent: true,
    });
    await until('the attached VIF\'s port', async () => (await ports()).includes(`${prefix}1`));
    assert.equal(await vsctl('get', 'Port', `${prefix}1`, 'tag'), '100');
    const hooks = sim.hooks;
    sim.hooks = { ...hooks, onVifPlug: () => Promise.reject(new Error('no grant frames left')) };
    await assert.rejects(callControl(socket, 'attach', { domain: vm.uuid, network: bridge }), /XAPI refused to plug VIF 2; it was destroyed again/);
    sim.hooks = hooks;
    assert.equal((sim.record('VM', vm.uuid).VIFs as string[]).length, 2);
    const detached = await callControl(socket, 'detach', { domain: 'plugged', index: 1 }) as DetachResult;
    assert.deepEqual([detached.state, detached.index, detached.device], ['removed', 1, `${prefix}1`]);
    await until('the detached VIF\'s port to go', async () => !(await ports()).includes(`${prefix}1`));
    assert.equal((sim.record('VM', vm.uuid).VIFs as string[]).length, 1);
    await sim.actions.shutdown(vm.ref, 'hard_shutdown');
  });

  it('ends in the right state after EVENTS_LOST and after a simulator restart with new refs', async () => {
    const eight = sim.handle('VM', sim.store.refs('VM').map((ref) => sim.store.text('VM', ref, 'uuid')).find((uuid) => sim.record('VM', uuid).name_label === 'eight') ?? '');
    const prefix = `vif${domid(eight)}.`;
    sim.loseEvents();
    sim.store.update('VM', eight.ref, (record) => { record.other_config = { ...record.other_config as Record<string, string>, 'vifd-vif-limit': '7' }; });
    await until('the block after EVENTS_LOST', () => Promise.resolve(blocked(eight).start?.includes('has 8 VIFs; the limit is 7 (VM.other_config:vifd-vif-limit')));
    sim.restart();
    const after = sim.handle('VM', eight.uuid);
    assert.notEqual(after.ref, eight.ref);
    sim.store.update('VM', after.ref, (record) => { record.other_config = { ...record.other_config as Record<string, string>, 'vifd-vif-limit': '8' }; });
    await until('the block to go after the restart', () => Promise.resolve(Object.keys(blocked(after)).length === 0));
    // The running VM kept its 8 ports through both resyncs.
    assert.equal((await ports()).filter((name) => name.startsWith(prefix)).length, 8);
    keepDevices = true;
    await sim.actions.shutdown(after.ref, 'clean_shutdown');
    await until('its ports to go', async () => !(await ports()).some((name) => name.startsWith(prefix)));
  });
});
