// The XAPI source's guards (pure): the VIF limit and MACs used twice become
// blocked_operations vifd sets and clears, never touching an operator's own.
import assert from 'node:assert/strict';
import { GUARDED_OPERATIONS, REASON_MARK, blockedWrites, decideGuards, decides, duplicateMacs } from '../../../../src/sources/xapi/guards.js';
import { findVm, guestVms } from '../../../../src/sources/xapi/vms.js';
import { World, mac } from './world.js';

const settings = { defaultLimit: 7, maxLimit: 16 };

function withVifs(world: World, n: number, count: number, fields: Record<string, unknown> = {}): string {
  const network = world.network(n, 'xenbr0');
  const vm = world.vm(n, fields);
  for (let device = 0; device < count; device++) world.vif(vm, network, device, mac(n * 16 + device));
  return vm;
}

describe('sources/xapi/guards: limit and MACs as blocked_operations', () => {
  it('blocks a VM over its limit with one line naming the VM and the count, and clears it after an override', () => {
    const world = new World();
    const host = world.host(1);
    world.pool(host);
    const vm = withVifs(world, 1, 8);
    withVifs(world, 2, 7);
    const [eight, seven] = decideGuards(world, { hostRef: host, masterRef: host }, settings).guards;
    assert.equal(eight?.reason, `${REASON_MARK}VM "vm-1" has 8 VIFs; the limit is 7 (host default; set VM.other_config:vifd-vif-limit to change it)`);
    assert.equal(eight.vifCount, 8);
    assert.equal(seven?.reason, null);
    world.change('VM', vm, { other_config: { 'vifd-vif-limit': '8' } });
    const after = decideGuards(world, { hostRef: host, masterRef: host }, settings).guards[0];
    assert.equal(after?.reason, null);
    assert.deepEqual(after.limit, { limit: 8, source: 'vm' });
  });

  it('blocks a VM whose override is unreadable or above the host cap, saying so', () => {
    const world = new World();
    const host = world.host(1);
    world.pool(host);
    const vm = withVifs(world, 1, 1, { other_config: { 'vifd-vif-limit': 'lots' } });
    const guard = (): string | null | undefined => decideGuards(world, { hostRef: host, masterRef: host }, settings).guards[0]?.reason;
    assert.match(guard() ?? '', /^vifd: VM "vm-1": VM\.other_config:vifd-vif-limit: "lots" is not a VIF limit/);
    world.change('VM', vm, { other_config: { 'vifd-vif-limit': '40' } });
    assert.match(guard() ?? '', /limit of 40 VIFs; this host allows at most 16/);
  });

  it('counts a MAC used twice in the pool: the running VM keeps it, the other is blocked', () => {
    const world = new World();
    const host = world.host(1);
    world.pool(host);
    const network = world.network(1, 'xenbr0');
    const [a, b] = [world.vm(1), world.vm(2)];
    world.vif(a, network, 0, mac(1));
    world.vif(b, network, 0, mac(1));
    world.vif(b, network, 1, mac(2));
    world.run(b, host, 5);
    const dups = duplicateMacs(world, guestVms(world));
    assert.deepEqual(dups.map((dup) => [dup.mac, dup.users.map((user) => user.vmUuid)]), [[mac(1), [world.uuid(2), world.uuid(1)]]]);
    const guards = decideGuards(world, { hostRef: host, masterRef: host }, settings).guards;
    const reason = (uuid: string): string | null | undefined => guards.find((guard) => guard.uuid === uuid)?.reason;
    assert.equal(reason(world.uuid(1)), `${REASON_MARK}VM "vm-1" has MAC ${mac(1)}, which VM "vm-2" uses`);
    assert.equal(reason(world.uuid(2)), null);
    assert.deepEqual(guards.find((guard) => guard.uuid === world.uuid(1))?.duplicateMacs, [mac(1)]);
  });

  it('blocks a VM that has one MAC on two of its VIFs', () => {
    const world = new World();
    const host = world.host(1);
    world.pool(host);
    const network = world.network(1, 'xenbr0');
    const vm = world.vm(1);
    world.vif(vm, network, 0, mac(1));
    world.vif(vm, network, 1, mac(1).toUpperCase());
    assert.equal(decideGuards(world, { hostRef: host, masterRef: host }, settings).guards[0]?.reason, `${REASON_MARK}VM "vm-1" has MAC ${mac(1)}, which it has on another VIF too`);
  });

  it('speaks for VMs resident here, and as master for VMs resident nowhere', () => {
    const world = new World();
    const [master, member] = [world.host(1), world.host(2)];
    world.pool(master);
    const [halted, onMember, onMaster] = [world.vm(1), world.vm(2), world.vm(3)];
    world.run(onMember, member, 4);
    world.run(onMaster, master, 5);
    const vm = (ref: string): ReturnType<typeof findVm> & object => findVm(world, String(world.get('VM', ref)?.uuid)) ?? assert.fail('no VM');
    const asMaster = { hostRef: master, masterRef: master };
    const asMember = { hostRef: member, masterRef: master };
    assert.deepEqual([halted, onMember, onMaster].map((ref) => decides(world, vm(ref), asMaster)), [true, false, true]);
    assert.deepEqual([halted, onMember, onMaster].map((ref) => decides(world, vm(ref), asMember)), [false, true, false]);
    assert.equal(decides(world, vm(halted), { hostRef: null, masterRef: master }), false);
  });

  it('writes vifd\'s reason on every guarded operation, replaces a stale one, and clears only its own', () => {
    const reason = `${REASON_MARK}VM "a" has 8 VIFs; the limit is 7`;
    assert.deepEqual(blockedWrites({}, reason), { remove: [], add: GUARDED_OPERATIONS.map((operation) => ({ operation, reason })) });
    const current = { start: 'maintenance (operator)', start_on: `${REASON_MARK}old`, resume: reason, pool_migrate: reason, clean_shutdown: 'x' };
    assert.deepEqual(blockedWrites(current, reason), { remove: ['start_on'], add: [{ operation: 'start_on', reason }] });
    assert.deepEqual(blockedWrites(current, null), { remove: ['start_on', 'resume', 'pool_migrate'], add: [] });
    assert.deepEqual(blockedWrites({ start: 'maintenance (operator)' }, null), { remove: [], add: [] });
  });
});
