// The composite source: one VmSource for the engine over several.
import assert from 'node:assert/strict';
import type { VmSnapshot, VmSource, VmSummary } from '../../../src/model/contracts.js';
import { CompositeSource } from '../../../src/sources/composite.js';

const A = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const B = '9b2c1e52-5a3e-4f0e-8d7e-2f5a8b1c0d11';

function source(vms: readonly VmSummary[], calls: string[], label: string, replugs = false): VmSource {
  const snapshot = (vm: VmSummary): VmSnapshot => ({ ...vm, running: () => Promise.reject(new Error('unused')), definition: () => Promise.reject(new Error('unused')) });
  return {
    list: () => Promise.resolve([...vms]),
    get: (uuid) => { calls.push(`${label} ${uuid}`); const vm = vms.find((one) => one.uuid === uuid); return Promise.resolve(vm === undefined ? null : snapshot(vm)); },
    ...(replugs ? { recreated: () => { calls.push(`${label} recreated`); return Promise.resolve(true); } } : {}),
  };
}

describe('sources/composite', () => {
  it('lists every source\'s VMs once, running when any source says so', async () => {
    const calls: string[] = [];
    const both = new CompositeSource(source([{ uuid: A, name: 'a', active: false }], calls, 'xen'), source([{ uuid: A, name: 'a', active: true }, { uuid: B, name: 'b', active: false }], calls, 'libvirt'));
    assert.deepEqual(await both.list(), [{ uuid: A, name: 'a', active: true }, { uuid: B, name: 'b', active: false }]);
  });

  it('gets a VM from the first source that knows it, asking in order', async () => {
    const calls: string[] = [];
    const both = new CompositeSource(source([{ uuid: A, name: 'a', active: true }], calls, 'xen'), source([{ uuid: B, name: 'b', active: true }], calls, 'libvirt'));
    assert.equal((await both.get(A))?.name, 'a');
    assert.equal((await both.get(B))?.name, 'b');
    assert.equal(await both.get('00000000-0000-4000-8000-000000000000'), null);
    assert.deepEqual(calls.slice(0, 3), [`xen ${A}`, `xen ${B}`, `libvirt ${B}`]);
  });

  it('fails the list when one source fails (GC must know every live VM)', async () => {
    const failing: VmSource = { list: () => Promise.reject(new Error('libvirtd is gone')), get: () => Promise.resolve(null) };
    await assert.rejects(new CompositeSource(source([], [], 'xen'), failing).list(), /libvirtd is gone/);
  });

  it('passes recreated devices to the sources that re-plug', async () => {
    const calls: string[] = [];
    const both = new CompositeSource(source([], calls, 'xen'), source([], calls, 'libvirt', true));
    assert.equal(await both.recreated({ uuid: A, name: 'a' }, []), true);
    assert.deepEqual(calls, ['libvirt recreated']);
  });
});
