// The sriov-vf kind's pure parts: what it observes of the pools, its typed
// drift per attribute, and the steps it plans (a whole assignment, one
// attribute per step, a release), through the registry's tables.
import assert from 'node:assert/strict';
import type { VfView } from '../../../src/host/sriov/vf-host.js';
import { executorsOn, kindsOn } from '../../../src/kinds/registry.js';
import type { KindHosts } from '../../../src/kinds/registry.js';
import type { ObservedSriovVf } from '../../../src/kinds/sriov-vf/index.js';
import { deviceName } from '../../../src/model/names.js';
import type { DesiredOf } from '../../../src/model/plan.js';
import { DEFAULT_VF_SETTINGS } from '../../../src/model/sriov/config.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import type { VfState } from '../../../src/model/sriov/release.js';
import type { VfNetConfig } from '../../../src/model/sriov/vf-settings.js';

const VM = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const PF = parsePciAddress('0000:01:00.0');
const VF0 = parsePciAddress('0000:01:10.0');
const MAC = '52:54:00:9b:d9:10';
const owner = { vmUuid: VM, vifIndex: 0 };
const clean: VfNetConfig = { index: 0, mac: MAC, vlan: 100, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 500 };

const want: DesiredOf<'sriov-vf'> = {
  kind: 'sriov-vf', index: 0, device: deviceName(VM, 0), mac: MAC, macSource: 'derived', macCollisions: 0, network: 'fast', bridge: 'enp1s0',
  vlan: { mode: 'access', tag: 100 }, vf: { address: VF0, on: { pf: PF, pfName: 'enp1s0', index: 0 } },
  sriov: { defaults: { ...DEFAULT_VF_SETTINGS, maxTxRate: 500 }, vlan: 100, vfDriver: 'vfio-pci' }, vmUuid: VM, vmName: 'web1',
};

function hostWith(views: VfView[], calls: string[] = []): KindHosts {
  const sriov = {
    views: () => views,
    assign: (network: string, who: typeof owner, mac: string, address: string) => { calls.push(`assign ${network} ${who.vifIndex} ${mac} ${address}`); return Promise.resolve(); },
    repair: (network: string, who: typeof owner, value: { kind: string }) => { calls.push(`repair ${who.vifIndex} ${value.kind}`); return Promise.resolve(); },
    release: (network: string, who: typeof owner) => { calls.push(`release ${network} ${who.vifIndex}`); return Promise.resolve(undefined); },
  };
  return { sriov } as unknown as KindHosts;
}

const view = (state: VfState, config?: VfNetConfig, present = true): VfView =>
  ({ network: 'fast', slot: { pf: PF, pfName: 'enp1s0', index: 0, address: VF0 }, state, present, ...(config === undefined ? {} : { config }) });

describe('kinds/sriov-vf: observe, diff, steps', () => {
  const kindOn = (views: VfView[]) => kindsOn(hostWith(views))['sriov-vf'];
  const seenOf = (views: VfView[]): ObservedSriovVf | undefined => kindOn(views).observe(VM)[0];

  it('observes only VFs held for a VIF, keyed by the VIF\'s device name; free, quarantined and foreign belong to no VIF', () => {
    const kind = kindOn([view({ kind: 'attached', owner }, clean), view({ kind: 'free' }), view({ kind: 'quarantined', reason: 'x', attempts: 1 }), view({ kind: 'foreign', reason: 'y' })]);
    assert.deepEqual(kind.observe().map((vif) => [vif.device, vif.vmUuid, vif.index, vif.state]), [[deviceName(VM, 0), VM, 0, 'attached']]);
    assert.deepEqual(kind.observe('9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11'), []);
    assert.deepEqual(kind.macUsers(MAC), [VM]);
    const seen = kind.observe()[0];
    assert.ok(seen !== undefined);
    assert.deepEqual(kind.describe(seen).vf, { address: VF0, pf: PF, pfName: 'enp1s0', index: 0, state: 'attached' });
    assert.equal(kind.describe(seen).vlan, 'access 100');
  });

  it('no drift when everything reads back; a missing, other, vanished or unset VF is a whole assignment', () => {
    const kind = kindOn([]);
    assert.deepEqual(kind.diff(want, seenOf([view({ kind: 'attached', owner }, clean)])), []);
    const cases: [VfView[], string, string][] = [
      [[], 'vf', 'none'],
      [[view({ kind: 'attached', owner }, clean, false)], 'vf', 'vanished'],
      [[view({ kind: 'reserved', owner })], 'vf.state', 'reserved'],
      [[view({ kind: 'attached', owner })], 'vf.state', 'unread'],
    ];
    for (const [views, field, seen] of cases) {
      const drift = kind.diff(want, seenOf(views));
      assert.deepEqual(drift.map((record) => [record.field, record.seen]), [[field, seen]]);
      assert.deepEqual(kind.repair(want, seenOf(views), drift).map((step) => step.kind), ['assign-vf']);
    }
  });

  it('drift per attribute, repaired one attribute per step in the order they are set', () => {
    const kind = kindOn([]);
    const seen = seenOf([view({ kind: 'attached', owner }, { ...clean, trust: true, vlan: 0, maxTxRate: 0 })]);
    const drift = kind.diff(want, seen);
    assert.deepEqual(drift, [
      { field: 'vf.vlan', wanted: 'vlan 100 qos 0 proto 802.1Q', seen: 'vlan 0 qos 0 proto 802.1Q' },
      { field: 'vf.trust', wanted: 'trust off', seen: 'trust on' },
      { field: 'vf.rate', wanted: 'min_tx_rate 0 max_tx_rate 500', seen: 'min_tx_rate 0 max_tx_rate 0' },
    ]);
    assert.deepEqual(kind.repair(want, seen, drift).map((step) => (step.kind === 'set-vf-attribute' ? step.attribute.kind : step.kind)), ['vlan', 'trust', 'rate']);
  });

  it('an attribute the driver does not report is not drift when the default is wanted, and is when another value is', () => {
    const kind = kindOn([]);
    const noLinkState = Object.fromEntries(Object.entries(clean).filter(([key]) => key !== 'linkState')) as unknown as VfNetConfig;
    assert.deepEqual(kind.diff(want, seenOf([view({ kind: 'attached', owner }, noLinkState)])), []);
    const enable = { ...want, sriov: { ...want.sriov, defaults: { ...want.sriov.defaults, linkState: 'enable' as const } } };
    assert.deepEqual(kind.diff(enable, seenOf([view({ kind: 'attached', owner }, noLinkState)])).map((record) => record.field), ['vf.link-state']);
  });

  it('removes a held VF by releasing it; a VF already being restored is left to maintenance', () => {
    const kind = kindOn([]);
    const held = seenOf([view({ kind: 'attached', owner }, clean)]);
    assert.ok(held !== undefined);
    assert.deepEqual(kind.remove(held), [{ kind: 'release-vf', device: deviceName(VM, 0), network: 'fast', vmUuid: VM, index: 0, address: VF0 }]);
    const releasing = seenOf([view({ kind: 'releasing', owner })]);
    assert.ok(releasing !== undefined);
    assert.deepEqual(kind.remove(releasing), []);
  });

  it('executors: assignments and repairs with the devices, releases with the deletions; without pools a clear refusal', async () => {
    const calls: string[] = [];
    const executors = executorsOn(hostWith([], calls));
    assert.deepEqual([executors['assign-vf'].phase, executors['set-vf-attribute'].phase, executors['release-vf'].phase], [1, 1, 3]);
    const tally = { created: [], detached: 0, destroyed: 0 };
    await executors['assign-vf'].run({ kind: 'assign-vf', vif: want }, tally);
    await executors['set-vf-attribute'].run({ kind: 'set-vf-attribute', vif: want, attribute: { kind: 'trust', on: false } }, tally);
    await executors['release-vf'].run({ kind: 'release-vf', device: want.device, network: 'fast', vmUuid: VM, index: 0, address: VF0 }, tally);
    assert.deepEqual(calls, [`assign fast 0 ${MAC} ${VF0}`, 'repair 0 trust', 'release fast 0']);
    assert.equal(tally.detached, 1);
    const bare = executorsOn({} as KindHosts);
    await assert.rejects(async () => { await bare['assign-vf'].run({ kind: 'assign-vf', vif: want }, tally); }, /network fast: vifd runs without SR-IOV pools/);
    assert.deepEqual(kindsOn({} as KindHosts)['sriov-vf'].observe(), []);
  });
});
