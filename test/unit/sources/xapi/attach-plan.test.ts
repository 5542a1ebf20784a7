// vifctl attach/detach on an XAPI VM, the pure part: network, device, MAC.
import assert from 'node:assert/strict';
import { InvalidInputError, LimitExceededError, MacInUseError } from '../../../../src/model/errors.js';
import { XEN_MAC_PREFIX, macCandidate, parseMacPrefix } from '../../../../src/model/mac.js';
import { findNetwork, findVifToDetach, findVmByName, planXapiAttach } from '../../../../src/sources/xapi/attach-plan.js';
import { findVm } from '../../../../src/sources/xapi/vms.js';
import { World, mac } from './world.js';

const prefix = parseMacPrefix(XEN_MAC_PREFIX);
const seven = { limit: 7, source: 'host' } as const;

function setUp(): { world: World; vm: ReturnType<typeof findVm> & object } {
  const world = new World();
  const plain = world.network(1, 'xenbr0', 'Pool-wide network');
  world.network(2, 'xapi3', 'VLAN 100');
  const ref = world.vm(1);
  world.vif(ref, plain, 0, mac(1));
  return { world, vm: findVm(world, world.uuid(1)) ?? assert.fail('no VM') };
}

describe('sources/xapi/attach-plan: attach and detach on an XAPI VM', () => {
  it('takes the first device XAPI allows and vifd\'s deterministic MAC, moving past MACs the pool uses', () => {
    const { world, vm } = setUp();
    const plan = planXapiAttach(world, vm, { network: 'VLAN 100' }, ['6', '2', '3'], seven, prefix);
    assert.equal(plan.device, 2);
    assert.equal(plan.network.bridge, 'xapi3');
    assert.equal(plan.mac, macCandidate(vm.uuid, 2, prefix, 0));
    world.vif(world.vm(2), plan.network.ref, 0, plan.mac);
    assert.equal(planXapiAttach(world, vm, { network: 'xapi3' }, ['2'], seven, prefix).mac, macCandidate(vm.uuid, 2, prefix, 1));
  });

  it('refuses past the limit, when XAPI allows no device, a VLAN of its own, and a MAC the pool uses', () => {
    const { world, vm } = setUp();
    assert.throws(() => planXapiAttach(world, vm, { network: 'xenbr0' }, ['1'], { limit: 1, source: 'vm' }, prefix), (error: unknown) =>
      error instanceof LimitExceededError && error.message.includes('asks for 2 VIFs; the limit is 1') && error.context.domain === 'vm-1');
    assert.throws(() => planXapiAttach(world, vm, { network: 'xenbr0' }, [], seven, prefix), /VM\.get_allowed_VIF_devices is empty/);
    assert.throws(() => planXapiAttach(world, vm, { network: 'xenbr0', vlan: '5' }, ['1'], seven, prefix), (error: unknown) => error instanceof InvalidInputError && error.context.field === 'vlan');
    assert.throws(() => planXapiAttach(world, vm, { network: 'xenbr0', mac: mac(1).toUpperCase() }, ['1'], seven, prefix), MacInUseError);
  });

  it('finds networks by uuid, bridge or unique name, and VMs by uuid or unique name', () => {
    const { world } = setUp();
    assert.equal(findNetwork(world, world.uuid(801).toUpperCase()).bridge, 'xenbr0');
    assert.equal(findNetwork(world, 'Pool-wide network').bridge, 'xenbr0');
    world.network(3, 'xenbr1', 'Pool-wide network');
    assert.throws(() => findNetwork(world, 'Pool-wide network'), /2 XAPI networks are named so/);
    assert.throws(() => findNetwork(world, 'nowhere'), (error: unknown) => error instanceof InvalidInputError && error.context.field === 'network');
    assert.equal(findVmByName(world, 'vm-1')?.uuid, world.uuid(1));
    assert.equal(findVmByName(world, 'libvirt-guest'), null);
    world.vm(2, { name_label: 'vm-1' });
    assert.throws(() => findVmByName(world, 'vm-1'), /2 XAPI VMs are named "vm-1"/);
  });

  it('names the VIF to detach by device or MAC', () => {
    const { world, vm } = setUp();
    assert.equal(findVifToDetach(world, vm, { index: 0 }).mac, mac(1));
    assert.equal(findVifToDetach(world, vm, { mac: mac(1).toUpperCase() }).device, 0);
    assert.throws(() => findVifToDetach(world, vm, { index: 4 }), /no VIF with device 4/);
  });
});
