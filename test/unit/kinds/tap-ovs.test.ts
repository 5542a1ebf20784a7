// The TAP-on-OVS kind's decisions about drift and orphans, through the
// engine's generic reconcile, asserted as data with no host.
import assert from 'node:assert/strict';
import { reconcile as reconcileWith } from '../../../src/engine/reconcile.js';
import type { OwnedPort } from '../../../src/host/ovsdb/ports.js';
import { ownedPortAsWritten } from '../../../src/host/ovsdb/port-columns.js';
import { portSpec } from '../../../src/kinds/tap-ovs/specs.js';
import type { TapState } from '../../../src/host/tap.js';
import { kindsOn } from '../../../src/kinds/registry.js';
import type { ObservedVif } from '../../../src/kinds/registry.js';
import { tapVifDrift } from '../../../src/kinds/tap-ovs/diff.js';
import { hostSideMac, observeTapVifs as observeVifs, parseTapAlias, tapAlias } from '../../../src/kinds/tap-ovs/observe.js';
import { deviceName } from '../../../src/model/names.js';
import type { DesiredOf } from '../../../src/model/plan.js';

type DesiredVif = DesiredOf<'tap'>;
import { FakeHost } from '../engine/fakes.js';

const kinds = kindsOn(new FakeHost());
const reconcile = (want: readonly DesiredVif[], seen: readonly ObservedVif[], inScope: (vif: ObservedVif) => boolean) => reconcileWith(kinds, want, seen, inScope);

const VM_A = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const VM_B = '9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11';

function desired(vmUuid: string, index: number, overrides: Partial<DesiredVif> = {}): DesiredVif {
  return {
    kind: 'tap', index, device: deviceName(vmUuid, index), mac: `52:54:00:00:00:0${index}`, macSource: 'derived', macCollisions: 0,
    network: 'prod', bridge: 'br-prod', vlan: { mode: 'access', tag: 100 }, mtu: 9000, vmUuid, vmName: 'web1', ...overrides,
  };
}

function tapFor(vif: DesiredVif, overrides: Partial<TapState> = {}): TapState {
  return { name: vif.device, multiQueue: false, vnetHdr: true, owner: null, group: null, mac: hostSideMac(vif.mac),
    mtu: vif.mtu ?? 1500, up: true, alias: tapAlias(vif.vmUuid, vif.index), ...overrides };
}

function portFor(vif: DesiredVif, overrides: Partial<OwnedPort> = {}): OwnedPort {
  // Exactly as vifd writes it, then changed as the test says.
  return { ...ownedPortAsWritten(portSpec(vif), { ofport: 3, error: null }), ...overrides };
}

describe('kinds/tap-ovs: desired against observed', () => {
  it('reads vifd\'s TAP alias back, and nothing else', () => {
    assert.deepEqual(parseTapAlias(tapAlias(VM_A, 12)), { vmUuid: VM_A, index: 12 });
    for (const alias of [null, '', 'vifd:', `vifd:${VM_A}`, `vifd:${VM_A}/1000`, `other:${VM_A}/1`, `vifd:${VM_A}/1\n`]) {
      assert.equal(parseTapAlias(alias), null, JSON.stringify(alias));
    }
  });

  it('gives the TAP the guest MAC with the first octet fe, as libvirt does', () => {
    assert.equal(hostSideMac('52:54:00:ab:cd:ef'), 'fe:54:00:ab:cd:ef');
  });

  it('joins ports and marked TAPs by device; unmarked TAPs are not vifd\'s', () => {
    const vif = desired(VM_A, 0);
    const stray = tapFor(desired(VM_B, 1), { alias: null });
    const observed = observeVifs([portFor(vif)], [tapFor(vif), stray, tapFor(desired(VM_B, 2))]);
    assert.deepEqual(observed.map((o) => [o.device, o.vmUuid, o.index, o.port !== null, o.tap !== null]).sort(), [
      [vif.device, VM_A, 0, true, true],
      [deviceName(VM_B, 2), VM_B, 2, false, true],
    ].sort());
  });

  it('finds nothing to do when the host matches', () => {
    const vif = desired(VM_A, 0);
    const result = reconcile([vif], observeVifs([portFor(vif)], [tapFor(vif)]), () => true);
    assert.deepEqual(result.steps, []);
    assert.equal(result.reports[0]?.state, 'ok');
  });

  it('plans TAP then port for a missing VIF', () => {
    const vif = desired(VM_A, 0);
    const result = reconcile([vif], [], () => true);
    assert.deepEqual(result.steps, [{ kind: 'ensure-tap', vif }, { kind: 'ensure-port', vif, reopen: false }]);
    assert.equal(result.reports[0]?.state, 'missing');
  });

  it('repairs a port that lost its tag without touching the TAP', () => {
    const vif = desired(VM_A, 0);
    const result = reconcile([vif], observeVifs([portFor(vif, { tag: null, vlanMode: null })], [tapFor(vif)]), () => true);
    assert.deepEqual(result.steps.map((step) => step.kind), ['ensure-port']);
    const [report] = result.reports;
    assert.equal(report?.state, 'drift');
    assert.deepEqual(report.drift, [{ field: 'tag', wanted: '100', seen: 'none' }, { field: 'vlan_mode', wanted: 'access', seen: 'none' }]);
    assert.deepEqual(report.problems, ['tag: wanted 100, seen none', 'vlan_mode: wanted access, seen none']);
  });

  it('recreates a vanished TAP and re-ensures its port', () => {
    const vif = desired(VM_A, 1);
    const result = reconcile([vif], observeVifs([portFor(vif, { error: 'could not open network device' })], []), () => true);
    assert.deepEqual(result.steps, [{ kind: 'ensure-tap', vif }, { kind: 'ensure-port', vif, reopen: true }]);
    assert.deepEqual(result.reports[0]?.drift.filter((drift) => drift.field === 'tap'), [{ field: 'tap', wanted: vif.device, seen: 'none' }]);
  });

  it('removes orphans in scope only, port before TAP, and leaves other VMs alone', () => {
    const mine = desired(VM_A, 0);
    const other = desired(VM_B, 0);
    const observed = observeVifs([portFor(mine), portFor(other)], [tapFor(mine), tapFor(other)]);
    const result = reconcile([], observed, (vif) => vif.vmUuid === VM_A);
    assert.deepEqual(result.steps, [
      { kind: 'remove-port', device: mine.device, vmUuid: VM_A },
      { kind: 'delete-tap', device: mine.device, vmUuid: VM_A },
    ]);
    assert.deepEqual(result.reports.map((report) => report.state), ['orphan']);
  });

  it('puts creations before removals', () => {
    const keep = desired(VM_A, 0);
    const gone = desired(VM_A, 1);
    const result = reconcile([keep], observeVifs([portFor(gone)], [tapFor(gone)]), () => true);
    assert.deepEqual(result.steps.map((step) => step.kind), ['ensure-tap', 'ensure-port', 'remove-port', 'delete-tap']);
  });

  it('names each difference: bridge, trunks, MTU, MAC, link state, switch error', () => {
    const vif = desired(VM_A, 0, { vlan: { mode: 'trunk', trunks: [200, 201] } });
    const drift = tapVifDrift(vif, observeVifs(
      [portFor(vif, { bridge: 'br-old', tag: null, trunks: [200], vlanMode: 'trunk', error: 'No such device', externalIds: { 'vifd:owner': 'vifd', 'vm-uuid': VM_A } })],
      [tapFor(vif, { mtu: 1500, up: false, mac: '52:54:00:00:00:00' })],
    )[0]);
    assert.deepEqual(drift.map((record) => record.field), [
      'tap.mac', 'tap.mtu', 'tap.up', 'bridge', 'trunks',
      'external_ids:vifd:vif-index', 'external_ids:attached-mac', 'external_ids:iface-id', 'external_ids:iface-status', 'external_ids:vifd:network',
      'interface.error',
    ]);
    assert.deepEqual(drift[0], { field: 'tap.mac', wanted: hostSideMac(vif.mac), seen: '52:54:00:00:00:00' });
    assert.deepEqual(drift.at(-1), { field: 'interface.error', wanted: 'none', seen: 'No such device' });
  });
});
