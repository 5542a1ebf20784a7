// libvirt's migrate hook through the daemon's hook handler: a VM with an
// SR-IOV VF is refused with the reason, unless the VF has a virtio failover
// twin; a VM without VFs passes, as before.
import assert from 'node:assert/strict';
import { hookHandler } from '../../../src/daemon/handlers.js';
import { Engine } from '../../../src/engine/engine.js';
import { FakeDomains, FakeHost, VM_A, quietLog, settings } from '../engine/fakes.js';

const domain = (devices: string): string => `<domain type='kvm'><name>mover</name><uuid>${VM_A}</uuid><devices>${devices}</devices></domain>`;
const VF = "<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:07'/><source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x4'/></source>TEAM</interface>";
const TWIN = "<interface type='bridge'><mac address='52:54:00:00:00:07'/><source bridge='br0'/><model type='virtio'/><alias name='ua-net7'/><teaming type='persistent'/></interface>";

describe('daemon/handlers: the migrate hook and SR-IOV VFs', () => {
  const handle = hookHandler(new Engine({ settings, source: new FakeDomains(), host: new FakeHost(), log: quietLog }));

  it('refuses a VM with a VF, naming the VM, the VF and the declaration that would allow it', async () => {
    const verdict = await handle('migrate', domain(VF.replace('TEAM', '')));
    assert.ok(!verdict.ok);
    assert.match(verdict.reason, /^VM "mover": live migration refused: interface 52:54:00:00:00:07 is an SR-IOV VF \(0000:03:10\.4\), which cannot be live-migrated; declare it <teaming type='transient'/);
  });

  it('passes a VF declared with its failover twin, and a VM without VFs', async () => {
    assert.deepEqual(await handle('migrate', domain(VF.replace('TEAM', "<teaming type='transient' persistent='ua-net7'/>") + TWIN)), { ok: true });
    assert.deepEqual(await handle('migrate', domain(TWIN)), { ok: true });
  });
});
