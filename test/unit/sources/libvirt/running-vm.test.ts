// Telling a running VM's vifd interfaces apart (pure): plugged, awaiting
// attach, held while detaching, detached by another tool.
import assert from 'node:assert/strict';
import { runningView } from '../../../../src/sources/libvirt/running-vm.js';
import { parseDomainXml } from '../../../../src/sources/libvirt/domain-xml.js';
import { deviceName } from '../../../../src/model/names.js';
import { VM_A } from '../../engine/fakes.js';

function domain(intentIndexes: number[], renderedIndexes: number[]): ReturnType<typeof parseDomainXml> {
  const intent = intentIndexes.map((index) => `<vifd:vif index="${index}" network="prod"/>`).join('');
  const interfaces = renderedIndexes.map((index) => `<interface type='ethernet'><target dev='${deviceName(VM_A, index)}' managed='no'/></interface>`).join('');
  return parseDomainXml(`<domain><name>web1</name><uuid>${VM_A}</uuid><metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">${intent}</vifd:vifd></metadata>` +
    `<devices>${interfaces}<interface type='ethernet'><target dev='tap-other' managed='no'/></interface></devices></domain>`);
}

describe('engine/running-vm: the vifd interfaces of a running VM', () => {
  it('keeps intent entries whose interface is not there yet (an attach is coming)', () => {
    const view = runningView(domain([0, 1], [0]), new Set([deviceName(VM_A, 0)]));
    assert.deepEqual(view.intent.vifs.map((vif) => vif.index), [0, 1]);
    assert.deepEqual(view.detachedElsewhere, []);
    assert.deepEqual([...view.rendered], [deviceName(VM_A, 0)]);
  });

  it('reports interfaces rendered without intent (being detached) and ignores other devices', () => {
    const view = runningView(domain([0], [0, 2]), new Set());
    assert.deepEqual([...view.rendered].sort(), [deviceName(VM_A, 0), deviceName(VM_A, 2)].sort());
  });

  it('drops an entry whose interface was there at the last look and is gone now', () => {
    const view = runningView(domain([0, 1], [0]), new Set([deviceName(VM_A, 0), deviceName(VM_A, 1)]));
    assert.deepEqual(view.detachedElsewhere, [1]);
    assert.deepEqual(view.intent.vifs.map((vif) => vif.index), [0]);
  });

  it('leaves a running Xen domain to the Xen hotplug source: nothing to plug here, nothing detached', () => {
    const xen = parseDomainXml(`<domain type='xen'><name>xen1</name><uuid>${VM_A}</uuid><metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1">` +
      `<vifd:vif index="0" network="prod"/></vifd:vifd></metadata><devices><interface type='bridge'><mac address='00:16:3e:00:00:01'/>` +
      `<source bridge='br-prod'/><script path='vif-vifd'/><target dev='vif3.0'/></interface></devices></domain>`);
    const view = runningView(xen, new Set([deviceName(VM_A, 0)]));
    assert.deepEqual(view.intent.vifs, []);
    assert.deepEqual(view.detachedElsewhere, []);
    assert.equal(view.rendered.size, 0);
  });
});
