// The netback planner: a Xen device is taken as the toolstack made it, checked,
// and counted once with its emulated twin; its MAC is never another VM's.
import assert from 'node:assert/strict';
import { InvalidInputError, MacInUseError } from '../../../src/model/errors.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { planVm } from '../../../src/model/plan.js';
import type { PlanSettings } from '../../../src/model/plan.js';
import type { NetbackVifIntent, VmIntent } from '../../../src/model/vm-intent.js';

const VM = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const settings: PlanSettings = { macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 2, max: 16 }, networks: new Map() };
const vif = (index: number, overrides: Partial<NetbackVifIntent> = {}): NetbackVifIntent => ({
  index, kind: 'netback', device: `vif7.${index}`, network: 'xenbr0', bridge: 'xenbr0', vlan: { mode: 'access', tag: 5 }, mac: `00:16:3e:00:00:0${index}`, ...overrides,
});
const vm = (vifs: readonly NetbackVifIntent[]): VmIntent => ({ uuid: VM, name: 'guest', vifs, others: [] });

describe('model/plan: netback VIFs', () => {
  it('keeps the device, MAC, bridge and VLAN the toolstack gave', () => {
    const [planned] = planVm(vm([vif(0, { mtu: 9000, vmName: 'guest' })]), settings).vifs;
    assert.deepEqual(planned, { kind: 'netback', index: 0, device: 'vif7.0', mac: '00:16:3e:00:00:00', macSource: 'explicit', macCollisions: 0,
      network: 'xenbr0', bridge: 'xenbr0', vlan: { mode: 'access', tag: 5 }, mtu: 9000, xenVmName: 'guest' });
  });

  it('counts a device and its twin once toward the limit', () => {
    assert.equal(planVm(vm([vif(0), vif(0, { device: 'tap7.0' }), vif(1)]), settings).vifs.length, 3);
  });

  it('refuses a bad device name, MTU or VLAN naming the VIF and field', () => {
    assert.throws(() => planVm(vm([vif(0, { device: 'vif7.0;rm' })]), settings), (e: unknown) => e instanceof InvalidInputError && /VIF 0: device/.test(e.message));
    assert.throws(() => planVm(vm([vif(0, { mtu: 10 })]), settings), (e: unknown) => e instanceof InvalidInputError && /VIF 0: mtu/.test(e.message));
    assert.throws(() => planVm(vm([vif(0, { vlan: { mode: 'access', tag: 4095 } })]), settings), InvalidInputError);
  });

  it('refuses a MAC another VM uses', () => {
    assert.throws(() => planVm(vm([vif(0)]), settings, (mac) => (mac === '00:16:3e:00:00:00' ? 'VM "db" (x)' : null)), MacInUseError);
  });
});
