// Planning SR-IOV VIFs (pure): the kind follows from the network, the VF is
// claimed through the chooser (one call per VIF, the definition's VF first),
// refusals name the field, and the config block reaches the planner.
import assert from 'node:assert/strict';
import { diffConfig } from '../../../src/config/diff.js';
import { validateConfig } from '../../../src/config/schema.js';
import { ConfigError, InvalidInputError, LimitExceededError } from '../../../src/model/errors.js';
import { KVM_MAC_PREFIX, parseMacPrefix } from '../../../src/model/mac.js';
import { deviceName } from '../../../src/model/names.js';
import { planVm } from '../../../src/model/plan.js';
import type { NetworkSettings, PlanSettings } from '../../../src/model/plan.js';
import { VfPool } from '../../../src/model/sriov/allocator.js';
import { DEFAULT_VF_SETTINGS } from '../../../src/model/sriov/config.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import type { PciAddress } from '../../../src/model/sriov/pci.js';
import type { PlannedVf, VfChooser } from '../../../src/model/sriov/vf-plan.js';
import { VfUnavailableError } from '../../../src/model/sriov/vf-plan.js';
import type { VifIntent, VmIntent } from '../../../src/model/vm-intent.js';

const UUID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const PF = parsePciAddress('0000:01:00.0');
const vfAt = (index: number): PciAddress => parsePciAddress(`0000:01:1${Math.floor(index / 8)}.${index % 8}`);

/** The chooser over a real VfPool, as the daemon's SriovVfs does (minus sysfs). */
function poolChooser(count: number): VfChooser & { pool: VfPool; calls: string[] } {
  const pool = new VfPool('fast');
  pool.setInventory([{ pf: PF, pfName: 'enp1s0' }], Array.from({ length: count }, (_, index) => ({ pf: PF, pfName: 'enp1s0', index, address: vfAt(index) })), () => ({}));
  const calls: string[] = [];
  const planned = (entry: { slot: { address: PciAddress; pf: PciAddress; pfName: string; index: number } }): PlannedVf =>
    ({ address: entry.slot.address, on: { pf: entry.slot.pf, pfName: entry.slot.pfName, index: entry.slot.index } });
  return {
    pool, calls,
    claim: (network, owner, wanted) => {
      calls.push(`${network} ${owner.vifIndex} ${wanted ?? '-'}`);
      const held = pool.heldBy(owner);
      if (held !== undefined) return planned(held);
      if (wanted !== undefined) {
        if (pool.get(wanted)?.state.kind !== 'free') throw new VfUnavailableError(`VF ${wanted} is taken`, { field: 'vf' });
        return planned(pool.apply(wanted, { kind: 'reserve', owner }));
      }
      return planned(pool.claim({ owner }));
    },
  };
}

const fast: NetworkSettings = { bridge: '', vlan: { mode: 'access', tag: 100 }, sriov: { defaults: DEFAULT_VF_SETTINGS, vlan: 100, vfDriver: 'vfio-pci' } };
const settingsWith = (vfs?: VfChooser): PlanSettings => ({
  macPrefix: parseMacPrefix(KVM_MAC_PREFIX), vifLimit: { default: 7, max: 16 },
  networks: new Map([['fast', fast], ['prod', { bridge: 'br-prod', vlan: { mode: 'none' } }]]), ...(vfs === undefined ? {} : { vfs }),
});
const vm = (vifs: readonly Partial<VifIntent>[]): VmIntent => ({
  uuid: UUID, name: 'web1', others: [], vifs: vifs.map((vif, index) => ({ index, kind: 'tap', network: 'fast', ...vif }) as VifIntent),
});

describe('model/plan: SR-IOV VIFs', () => {
  it('a TAP intent on an SR-IOV network is planned as a VF: MAC as a TAP\'s, the network\'s VLAN, a VF claimed per VIF', () => {
    const chooser = poolChooser(4);
    const plan = planVm(vm([{}, { network: 'prod' }, {}]), settingsWith(chooser));
    assert.deepEqual(plan.vifs.map((vif) => vif.kind), ['sriov-vf', 'tap', 'sriov-vf']);
    const first = plan.vifs[0];
    assert.ok(first?.kind === 'sriov-vf');
    assert.equal(first.device, deviceName(UUID, 0));
    assert.equal(first.bridge, 'enp1s0');
    assert.deepEqual(first.vlan, { mode: 'access', tag: 100 });
    assert.deepEqual(plan.vifs.flatMap((vif) => (vif.kind === 'sriov-vf' ? [vif.vf.address] : [])), [vfAt(0), vfAt(1)]);
    assert.deepEqual(chooser.calls, ['fast 0 -', 'fast 2 -']);
    assert.equal(plan.interfaceCount, 3, 'VFs count toward the limit');
  });

  it('takes the VF its definition records, and refuses naming the field when that VF is not free', () => {
    const chooser = poolChooser(4);
    const plan = planVm(vm([{ kind: 'sriov-vf', vf: '0000:01:10.3' }]), settingsWith(chooser));
    assert.equal(plan.vifs[0]?.kind === 'sriov-vf' ? plan.vifs[0].vf.address : null, vfAt(3));
    chooser.pool.apply(vfAt(2), { kind: 'reserve', owner: { vmUuid: 'other', vifIndex: 0 } });
    assert.throws(() => planVm({ ...vm([{ kind: 'sriov-vf', vf: '0000:01:10.2' }]), uuid: '9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11' }, settingsWith(chooser)),
      (error: unknown) => error instanceof VfUnavailableError && error.context.field === 'vf' && error.context.vifIndex === 0);
  });

  it('refuses before claiming when the VIF limit is exceeded', () => {
    const chooser = poolChooser(8);
    assert.throws(() => planVm(vm(Array.from({ length: 8 }, () => ({}))), settingsWith(chooser)), LimitExceededError);
    assert.deepEqual(chooser.calls, []);
  });

  it('without the daemon\'s pools (a dry run) only a recorded VF plans; a per-VIF VLAN and a bad address are refused naming the field', () => {
    assert.equal(planVm(vm([{ kind: 'sriov-vf', vf: '0000:01:10.2' }]), settingsWith()).vifs[0]?.bridge, '');
    const field = (intent: VmIntent, name: string) => assert.throws(() => planVm(intent, settingsWith()), (error: unknown) => error instanceof InvalidInputError && error.context.field === name);
    field(vm([{}]), 'vf');
    field(vm([{ vlan: '200' }]), 'vlan');
    field(vm([{ kind: 'sriov-vf', vf: '0000:01:10.9' }]), 'vf');
    field(vm([{ kind: 'sriov-vf', network: 'prod', vf: '0000:01:10.2' }]), 'network');
  });
});

describe('config/schema: the sriov block of a network', () => {
  const config = (network: Record<string, unknown>) => validateConfig({ networks: { fast: network } });

  it('makes an SR-IOV network: no bridge needed, defaults filled', () => {
    const network = config({ vlan: 100, sriov: { pfs: ['enp1s0', '0000:02:00.0'], max_tx_rate: 500 } }).networks.get('fast');
    assert.ok(network?.sriov !== undefined);
    assert.equal(network.bridge, '');
    assert.deepEqual(network.sriov.pfs, [{ kind: 'netdev', name: 'enp1s0' }, { kind: 'pci', address: '0000:02:00.0' }]);
    assert.equal(network.sriov.vlan, 100);
    assert.equal(network.sriov.defaults.maxTxRate, 500);
  });

  it('refuses trunks naming the field, and bad sriov fields by their path', () => {
    const refused = (network: Record<string, unknown>, field: string) =>
      assert.throws(() => config(network), (error: unknown) => error instanceof ConfigError && error.context.field === field);
    refused({ trunks: [100, 101], sriov: { pfs: ['enp1s0'] } }, 'networks.fast.trunks');
    refused({ sriov: { pfs: [] } }, 'networks.fast.sriov.pfs');
    refused({ sriov: { pfs: ['enp1s0'], spoofchk: 'yes' } }, 'networks.fast.sriov.spoofchk');
    refused({ sriov: { pfs: ['enp1s0'], colour: 1 } }, 'networks.fast.sriov');
    refused({}, 'networks.fast.bridge');
  });

  it('a reload that changes an sriov block says so (the daemon rebuilds that pool)', () => {
    const before = config({ sriov: { pfs: ['enp1s0'] } });
    assert.deepEqual(diffConfig(before, config({ sriov: { pfs: ['enp1s0'] } })).same, true);
    assert.deepEqual(diffConfig(before, config({ sriov: { pfs: ['enp1s0'], trust: true } })).changed, [{ network: 'fast', fields: ['sriov'] }]);
  });
});
