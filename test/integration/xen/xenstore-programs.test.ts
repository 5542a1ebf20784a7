// The simulated xenstore programs (test/harness/xen/bin) through the hook's
// own ProgramXenStore, and against the store directory the stand-in writes:
// the programs are found on PATH, values round-trip byte for byte through
// xenstore-read's escaping, and absent keys are absent.
import assert from 'node:assert/strict';
import { ProgramXenStore } from '../../../src/sources/xen-hotplug/xenstore.js';
import { SimXenStore } from '../../harness/xen/store.js';

describe('integration: the simulated xenstore programs behind ProgramXenStore', function () {
  this.timeout(30_000);
  let sim: SimXenStore;
  let programs: ProgramXenStore;

  beforeEach(() => {
    sim = SimXenStore.create();
    programs = new ProgramXenStore({ ...process.env, ...sim.env() });
  });
  afterEach(() => sim.destroy());

  it('reads what the stand-in wrote, relative paths under /local/domain/0, hostile bytes intact', async () => {
    sim.write('backend/vif/7/0/bridge', 'xenbr0;$(x)\n\\n\u0001');
    sim.write('/vm/u/name', '');
    assert.equal(await programs.read('backend/vif/7/0/bridge'), 'xenbr0;$(x)\n\\n\u0001');
    assert.equal(await programs.read('/local/domain/0/backend/vif/7/0/bridge'), 'xenbr0;$(x)\n\\n\u0001');
    assert.equal(await programs.read('/vm/u/name'), '');
    assert.equal(await programs.read('/vm/u'), '', 'a parent node exists with an empty value');
    assert.equal(await programs.read('/vm/nope'), null);
  });

  it('readMany: absent keys anywhere in the list, the others read', async () => {
    sim.writeAll('/a', { one: '1', three: '3\n3', five: '' });
    assert.deepEqual(await programs.readMany(['/a/zero', '/a/one', '/a/two', '/a/three', '/a/four', '/a/five']), [null, '1', null, '3\n3', null, '']);
  });

  it('writes (several in one run) land in the store as given', async () => {
    await programs.writeAll([['backend/vif/7/0/hotplug-status', 'connected'], ['backend/vif/7/0/hotplug-error', 'VM "a\\b": "x\ny"']]);
    assert.equal(sim.read('/local/domain/0/backend/vif/7/0/hotplug-status'), 'connected');
    assert.equal(sim.read('/local/domain/0/backend/vif/7/0/hotplug-error'), 'VM "a\\b": "x\ny"');
  });

  it('exists and rm: rm of a node removes its children; rm of a missing node succeeds', async () => {
    sim.writeAll('/xapi/u/hotplug/7/vif/0', { hotplug: 'online', vif: 'vif7.0' });
    assert.equal(await programs.exists('/xapi/u/hotplug/7/vif/0'), true);
    await programs.rm('/xapi/u/hotplug/7/vif/0');
    assert.equal(await programs.exists('/xapi/u/hotplug/7/vif/0'), false);
    assert.equal(sim.exists('/xapi/u/hotplug/7/vif/0/hotplug'), false);
    await programs.rm('/xapi/u/hotplug/7/vif/0');
    await programs.rm('/no/such/parent');
  });
});
