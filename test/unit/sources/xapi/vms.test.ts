// The XAPI source's mapping from records to VM intents (pure).
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../../../src/model/errors.js';
import { findVm, guestVms, placementOf, runningIntent } from '../../../../src/sources/xapi/vms.js';
import type { IntentInputs } from '../../../../src/sources/xapi/vms.js';
import { World, mac } from './world.js';

function setUp(): { world: World; here: string; there: string; plain: string; vlan: string } {
  const world = new World();
  const here = world.host(1);
  const there = world.host(2);
  world.pool(here);
  return { world, here, there, plain: world.network(1, 'xenbr0', 'Pool-wide network'), vlan: world.network(2, 'xapi3', 'VLAN 100') };
}

const inputs = (devices: readonly string[], extra: Partial<IntentInputs> = {}): IntentInputs => ({
  exists: (name) => devices.includes(name),
  fakeBridge: (name) => (name === 'xapi3' ? { parent: 'xenbr0', tag: 100 } : null),
  ...extra,
});

describe('sources/xapi/vms: records to intents', () => {
  it('places a VM: here (running on this host), busy (an operation under way elsewhere), or not here', () => {
    const { world, here, there } = setUp();
    const vm = world.vm(1);
    const read = (): ReturnType<typeof placementOf> => placementOf(world, findVm(world, world.uuid(1)) ?? assert.fail('no VM'), here);
    assert.deepEqual(read(), { kind: 'not-here' });
    world.run(vm, here, 7);
    assert.deepEqual(read(), { kind: 'here', domid: 7 });
    world.change('VM', vm, { power_state: 'Paused' });
    assert.deepEqual(read(), { kind: 'here', domid: 7 });
    world.change('VM', vm, { current_operations: { 'OpaqueRef:task': 'pool_migrate' } });
    assert.deepEqual(read(), { kind: 'here', domid: 7 }, 'leaving: its devices say what is left');
    world.change('VM', vm, { resident_on: there });
    assert.deepEqual(read(), { kind: 'busy' }, 'maybe arriving: XAPI does not speak for it');
    world.change('VM', vm, { current_operations: {} });
    assert.deepEqual(read(), { kind: 'not-here' });
    world.change('VM', vm, { resident_on: here, power_state: 'Suspended' });
    assert.deepEqual(read(), { kind: 'not-here' });
    assert.deepEqual(placementOf(world, findVm(world, world.uuid(1)) ?? assert.fail('no VM'), null), { kind: 'not-here' });
  });

  it('leaves out control domains, templates and snapshots', () => {
    const { world } = setUp();
    world.vm(1, { is_control_domain: true });
    world.vm(2, { is_a_template: true });
    world.vm(3, { is_a_snapshot: true });
    world.vm(4);
    assert.deepEqual(guestVms(world).map((vm) => vm.uuid), [world.uuid(4)]);
    assert.equal(findVm(world, world.uuid(1)), null);
    assert.equal(findVm(world, world.uuid(4).toUpperCase())?.name, 'vm-4');
  });

  it('makes a netback intent per existing device: vifD.N, its tapD.N twin, a fake bridge resolved to parent and tag', () => {
    const { world, here, plain, vlan } = setUp();
    const vm = world.vm(1);
    world.vif(vm, plain, 0, '00:16:3E:00:00:01', { MTU: 9000, trunks: [300, 200] });
    world.vif(vm, vlan, 1, mac(2));
    world.vif(vm, plain, 2, mac(3));
    world.run(vm, here, 7);
    const found = findVm(world, world.uuid(1)) ?? assert.fail('no VM');
    const intent = runningIntent(world, found, 7, inputs(['vif7.0', 'tap7.0', 'vif7.1'], { vifLimit: '9' }));
    assert.equal(intent.name, 'vm-1');
    assert.equal(intent.vifLimit, '9');
    assert.deepEqual(intent.vifs.map((vif) => [vif.kind, vif.index, vif.kind === 'netback' ? vif.device : '']), [['netback', 0, 'vif7.0'], ['netback', 0, 'tap7.0'], ['netback', 1, 'vif7.1']]);
    const [first, , third] = intent.vifs;
    assert.deepEqual(first, {
      index: 0, kind: 'netback', device: 'vif7.0', network: 'xenbr0:200:300', bridge: 'xenbr0', vlan: { mode: 'trunk', trunks: [200, 300] }, mac: '00:16:3e:00:00:01', mtu: 9000,
      vmName: 'vm-1', xapi: { vmUuid: world.uuid(1), vifUuid: (world.get('VIF', (world.get('VM', vm)?.VIFs as string[])[0] ?? '')?.uuid), networkUuid: world.uuid(801) },
      lockingMode: 'unlocked',
    });
    assert.equal(third?.kind === 'netback' && third.bridge, 'xenbr0');
    assert.deepEqual(third?.kind === 'netback' ? [third.network, third.vlan] : null, ['xapi3', { mode: 'access', tag: 100 }]);
  });

  it('refuses a VIF whose record cannot be plugged, naming the VM, the VIF and the field', () => {
    const { world, here, plain } = setUp();
    const vm = world.vm(1);
    world.vif(vm, plain, 0, 'ff:ff:ff:ff:ff:ff');
    world.run(vm, here, 3);
    const found = findVm(world, world.uuid(1)) ?? assert.fail('no VM');
    assert.throws(() => runningIntent(world, found, 3, inputs(['vif3.0'])), (error: unknown) =>
      error instanceof InvalidInputError && error.context.field === 'VIF.MAC' && error.context.vifIndex === 0 && error.context.domain === 'vm-1');
    const bad = world.network(3, 'br;rm -rf /');
    world.change('VIF', (world.get('VM', vm)?.VIFs as string[])[0] ?? '', { MAC: mac(1), network: bad });
    assert.throws(() => runningIntent(world, found, 3, inputs(['vif3.0'])), (error: unknown) => error instanceof InvalidInputError && error.context.field === 'network.bridge');
  });

  it('plans no VIF whose device does not exist (not plugged yet, or unplugged)', () => {
    const { world, here, plain } = setUp();
    const vm = world.vm(1);
    world.vif(vm, plain, 0, mac(1));
    world.vif(vm, plain, 1, mac(2));
    world.run(vm, here, 4);
    const found = findVm(world, world.uuid(1)) ?? assert.fail('no VM');
    assert.deepEqual(runningIntent(world, found, 4, inputs(['vif4.1'])).vifs.map((vif) => vif.index), [1]);
    assert.deepEqual(runningIntent(world, found, 4, inputs([])).vifs, []);
  });

  it('takes locking_mode as xapi hands it to xenopsd: locked with its addresses, network_default from the network, disabled leaves the device off', () => {
    const { world, here, plain } = setUp();
    const vm = world.vm(1);
    world.vif(vm, plain, 0, mac(1), { locking_mode: 'locked', ipv4_allowed: ['10.0.0.5'], ipv6_allowed: [] });
    world.vif(vm, plain, 1, mac(2), { locking_mode: 'network_default' });
    world.vif(vm, plain, 2, mac(3), { locking_mode: 'disabled' });
    world.run(vm, here, 5);
    const found = findVm(world, world.uuid(1)) ?? assert.fail('no VM');
    const all = ['vif5.0', 'vif5.1', 'vif5.2'];
    const modes = (): unknown[] => runningIntent(world, found, 5, inputs(all)).vifs.map((vif) => (vif.kind === 'netback' ? [vif.device, vif.lockingMode, vif.ipv4Allowed] : null));
    assert.deepEqual(modes(), [['vif5.0', 'locked', ['10.0.0.5']], ['vif5.1', 'unlocked', undefined]]);
    world.change('network', plain, { default_locking_mode: 'disabled' });
    assert.deepEqual(modes(), [['vif5.0', 'locked', ['10.0.0.5']]], 'network_default follows the network: disabled means no port');
    world.change('VIF', (world.get('VM', vm)?.VIFs as string[])[0] ?? '', { ipv4_allowed: ['10.0.0.5,actions=NORMAL'] });
    assert.throws(() => runningIntent(world, found, 5, inputs(all)), (error: unknown) =>
      error instanceof InvalidInputError && error.context.field === 'VIF.ipv4_allowed' && error.context.vifIndex === 0);
  });
});
