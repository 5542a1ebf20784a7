// The libvirt source's side of SR-IOV VIFs: the VF recorded in vifd's
// metadata and rendered as a hostdev interface (read back, checked against
// the plan), hot-plug with rollback, a detach that releases the VF only once
// the guest let it go, and the live-migration check.
import assert from 'node:assert/strict';
import { Engine } from '../../../../src/engine/engine.js';
import type { VfView } from '../../../../src/host/sriov/vf-host.js';
import { InvalidInputError } from '../../../../src/model/errors.js';
import { deviceName } from '../../../../src/model/names.js';
import type { PlanSettings } from '../../../../src/model/plan.js';
import { VfPool } from '../../../../src/model/sriov/allocator.js';
import { DEFAULT_VF_SETTINGS } from '../../../../src/model/sriov/config.js';
import { parsePciAddress } from '../../../../src/model/sriov/pci.js';
import type { PciAddress } from '../../../../src/model/sriov/pci.js';
import type { VifOwner } from '../../../../src/model/sriov/release.js';
import type { PlannedVf, VfChooser } from '../../../../src/model/sriov/vf-plan.js';
import type { VfNetConfig } from '../../../../src/model/sriov/vf-settings.js';
import { parseDomainXml } from '../../../../src/sources/libvirt/domain-xml.js';
import { HotPlug } from '../../../../src/sources/libvirt/hotplug.js';
import { planDomain, renderedInterfaceProblems } from '../../../../src/sources/libvirt/intent.js';
import { migrationRefusals } from '../../../../src/sources/libvirt/migration.js';
import { renderDomainInterfaces } from '../../../../src/sources/libvirt/render.js';
import { FakeControl, FakeDomains, FakeHost, TEMPLATE, VM_A, domainXml, prepareXml, quietLog, settings } from '../../engine/fakes.js';

const PF = parsePciAddress('0000:01:00.0');
const HOSTDEV = "<interface type='hostdev' managed='yes'><mac address='{{mac}}'/><driver name='{{driver}}'/><source><address type='pci' domain='{{domain}}' bus='{{bus}}' slot='{{slot}}' function='{{function}}'/></source>{{vlan}}</interface>";

/** The daemon's VF pools in memory: a real VfPool, settings applied at once. */
class MemoryVfs implements VfChooser {
  readonly pool = new VfPool('fast');
  readonly configs = new Map<PciAddress, VfNetConfig>();
  constructor(count: number) {
    this.pool.setInventory([{ pf: PF, pfName: 'enp1s0' }], Array.from({ length: count }, (_, index) => ({ pf: PF, pfName: 'enp1s0', index, address: parsePciAddress(`0000:01:10.${index}`) })), () => ({}));
  }

  claim(_network: string, owner: VifOwner, wanted?: PciAddress): PlannedVf {
    const entry = this.pool.heldBy(owner) ?? (wanted === undefined ? this.pool.claim({ owner }) : this.pool.apply(wanted, { kind: 'reserve', owner }));
    return { address: entry.slot.address, on: { pf: PF, pfName: 'enp1s0', index: entry.slot.index } };
  }

  views(): VfView[] {
    return this.pool.list().map((entry) => {
      const config = this.configs.get(entry.slot.address);
      return { network: 'fast', slot: entry.slot, state: entry.state, present: true, ...(config === undefined ? {} : { config }) };
    });
  }

  assign(_network: string, owner: VifOwner, mac: string, address: PciAddress): Promise<void> {
    this.pool.apply(address, { kind: 'attach', owner });
    this.configs.set(address, { index: 0, mac, vlan: 100, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 0 });
    return Promise.resolve();
  }

  repair(): Promise<void> { return Promise.resolve(); }
  release(_network: string, owner: VifOwner) {
    const entry = this.pool.heldBy(owner);
    if (entry === undefined) return Promise.resolve(undefined);
    this.pool.apply(entry.slot.address, { kind: 'release', owner, proof: 'device-removed' });
    this.configs.delete(entry.slot.address);
    return Promise.resolve(this.pool.apply(entry.slot.address, { kind: 'restored', clean: true }).state);
  }
}

/** libvirt's side, with hostdev interfaces removed by their source address. */
class VfControl extends FakeControl {
  override detachInterface(uuid: string, xml: string, flags: { live?: boolean; config?: boolean }) {
    const slot = /slot='(0x[0-9a-f]+)' function='(0x[0-9a-f])'/.exec(xml);
    if (slot === null) return super.detachInterface(uuid, xml, flags);
    this.calls.push('detach');
    const remove = (current: string): string => current.replace(new RegExp(`<interface type='hostdev'(?:(?!</interface>)[\\s\\S])*?slot='${slot[1] ?? ''}' function='${slot[2] ?? ''}'[\\s\\S]*?</interface>`), '');
    if (flags.config === true) this.persistent = remove(this.persistent);
    if (flags.live === true && this.guestReleases) this.live = remove(this.live);
    return Promise.resolve();
  }
}

const sriovSettings = (vfs: MemoryVfs): PlanSettings => ({
  ...settings, vfs,
  networks: new Map([...settings.networks, ['fast', { bridge: '', vlan: { mode: 'access', tag: 100 }, sriov: { defaults: DEFAULT_VF_SETTINGS, vlan: 100, vfDriver: 'vfio-pci' } }]]),
});

describe('sources/libvirt: SR-IOV VIFs', () => {
  it('a VF recorded in the metadata names its hostdev interface; the rendered definition reads back as planned', () => {
    const bare = domainXml(VM_A, 'web1', ['prod'], { render: false }).replace('<vifd:vif network="prod"/>', '<vifd:vif network="prod"/><vifd:vif network="fast" vf="0000:01:10.2"/>');
    const domain = parseDomainXml(bare);
    assert.deepEqual(domain.intent?.vifs[1], { index: 1, network: 'fast', kind: 'sriov-vf', vf: '0000:01:10.2' });
    const plan = planDomain(domain, sriovSettings(new MemoryVfs(4)));
    const rendered = parseDomainXml(renderDomainInterfaces(bare, domain, plan, TEMPLATE, HOSTDEV));
    const vf = rendered.interfaces.find((definition) => definition.type === 'hostdev');
    assert.equal(vf?.targetDev, deviceName(VM_A, 1), 'named by its VIF, as a TAP\'s interface');
    assert.equal(vf.hostdevAddress, '0000:01:10.2');
    assert.deepEqual(vf.vlanTags.map((tag) => tag.id), ['100']);
    assert.deepEqual(renderedInterfaceProblems(rendered, plan), []);
    const moved = parseDomainXml(renderDomainInterfaces(bare, domain, plan, TEMPLATE, HOSTDEV).replace("<tag id='100'/>", "<tag id='200'/>"));
    assert.deepEqual(renderedInterfaceProblems(moved, plan), ['VIF 1: interface of VF 0000:01:10.2 has VLAN 200, planned 100']);
  });

  it('refuses a per-VIF vlan on an SR-IOV VIF and a vf on a TAP, naming the field', () => {
    const bad = (vif: string, field: string) => assert.throws(() => parseDomainXml(domainXml(VM_A, 'web1', [], { render: false }).replace('</vifd:vifd>', `${vif}</vifd:vifd>`)),
      (error: unknown) => error instanceof InvalidInputError && error.context.field === field);
    bad('<vifd:vif network="fast" vf="0000:01:10.2" vlan="5"/>', 'vlan');
    bad('<vifd:vif network="fast" kind="tap" vf="0000:01:10.2"/>', 'vf');
  });

  describe('hot-plug', () => {
    let vfs: MemoryVfs;
    let control: VfControl;
    let hotPlug: HotPlug;
    let engine: Engine;

    beforeEach(async () => {
      vfs = new MemoryVfs(2);
      const host = Object.assign(new FakeHost(), { sriov: vfs });
      const domains = new FakeDomains();
      const xml = domainXml(VM_A, 'web1', ['prod']);
      control = new VfControl(VM_A, 'web1', xml);
      engine = new Engine({ settings: sriovSettings(vfs), source: domains, host, log: quietLog });
      hotPlug = new HotPlug(engine, control, TEMPLATE, quietLog, 300, HOSTDEV);
      domains.domains.set(VM_A, { uuid: VM_A, name: 'web1', active: true, xml });
      domains.xmlOf = (uuid) => (uuid === VM_A ? control.live : undefined);
      domains.metadataSink = (uuid, metadata, flags) => control.setIntent(uuid, metadata, flags);
      await prepareXml(engine, xml);
      await engine.reconcileDomain(VM_A, 'started');
    });

    const states = () => vfs.pool.list().map((entry) => entry.state.kind);

    it('attach: claims and sets a VF, records it in the metadata, attaches the hostdev interface; a reconcile keeps it', async () => {
      const result = await hotPlug.attach('web1', { network: 'fast' });
      assert.deepEqual([result.index, result.bridge, result.vlan], [1, 'enp1s0', 'access 100']);
      assert.deepEqual(control.calls, ['setIntent live', 'setIntent config', 'attach']);
      for (const xml of [control.live, control.persistent]) {
        const parsed = parseDomainXml(xml);
        assert.deepEqual(parsed.intent?.vifs[1], { index: 1, network: 'fast', kind: 'sriov-vf', vf: '0000:01:10.0' });
        assert.equal(parsed.interfaces.find((definition) => definition.type === 'hostdev')?.targetDev, deviceName(VM_A, 1));
      }
      await engine.reconcileDomain(VM_A, 'device-added');
      assert.deepEqual(states(), ['attached', 'free']);
      assert.deepEqual(engine.status().map((row) => row.state), ['ok', 'ok']);
    });

    it('attach refused by libvirt: the VF is released and the intent restored', async () => {
      control.refuseAttach = 'no free PCIe root port';
      await assert.rejects(hotPlug.attach('web1', { network: 'fast' }), /no free PCIe root port/);
      assert.deepEqual(states(), ['free', 'free']);
      assert.deepEqual(parseDomainXml(control.live).intent?.vifs.map((vif) => vif.network), ['prod']);
    });

    it('detach: the VF stays held until the guest lets go; released then, and the entry dropped', async () => {
      await hotPlug.attach('web1', { network: 'fast' });
      control.calls.length = 0;
      control.guestReleases = false;
      assert.equal((await hotPlug.detach('web1', { index: 1 })).state, 'pending');
      assert.deepEqual(states(), ['attached', 'free'], 'the guest may still use it');
      await engine.reconcileDomain(VM_A, 'detach pending');
      assert.deepEqual(states(), ['attached', 'free'], 'a reconcile meanwhile does not release it');
      control.guestReleases = true;
      control.calls.length = 0;
      assert.equal((await hotPlug.detach('web1', { index: 1 })).state, 'removed');
      assert.deepEqual(control.calls, ['detach', 'setIntent config', 'setIntent live']);
      assert.deepEqual(states(), ['free', 'free']);
      assert.deepEqual(parseDomainXml(control.live).intent?.vifs.map((vif) => vif.index), [0]);
    });
  });

  it('live migration is refused for a VF without a virtio failover twin, and allowed with one', () => {
    const vf = "<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:01'/><source><address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x2'/></source>TEAM</interface>";
    const twin = "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><model type='virtio'/><alias name='ua-fast0'/><teaming type='persistent'/></interface>";
    const domain = (devices: string) => parseDomainXml(`<domain type='kvm'><name>m</name><uuid>${VM_A}</uuid><devices>${devices}</devices></domain>`);
    assert.match(migrationRefusals(domain(vf.replace('TEAM', '')))[0] ?? '', /^interface 52:54:00:00:00:01 is an SR-IOV VF \(0000:01:10\.2\), which cannot be live-migrated; declare it <teaming type='transient'/);
    const declared = vf.replace('TEAM', "<teaming type='transient' persistent='ua-fast0'/>");
    assert.deepEqual(migrationRefusals(domain(declared + twin)), []);
    assert.equal(migrationRefusals(domain(declared)).length, 1, 'the twin must exist');
    assert.equal(migrationRefusals(domain(declared + twin.replace('52:54:00:00:00:01', '52:54:00:00:00:02'))).length, 1, 'with the same MAC');
  });
});
