// The lab as the README shows it: `make lab`'s program after the same
// prerequisites `make test` has already made (setup, build, guest image,
// install), then `make lab-down`'s, which must leave nothing of the lab or of
// vifd. The installation is put back afterwards for whatever runs next.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { run, tryRun } from '../harness/exec.js';
import { listDomains } from '../harness/libvirt.js';
import { listLinks, listNetns } from '../harness/net.js';
import { listBridges } from '../harness/ovs.js';
import { requirePrerequisites } from '../harness/prereq.js';

const LAB = new URL('../../lab/lab.js', import.meta.url).pathname;

describe('e2e: make lab and make lab-down', function () {
  this.timeout(600_000);

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping', 'vifd-hook']);
  });

  after(async () => {
    await tryRun([process.execPath, LAB, 'down'], { timeoutMs: 300_000 });
    await run(['scripts/install.sh'], { timeoutMs: 300_000 });
    await run(['scripts/libvirt-reload-hooks.sh'], { timeoutMs: 300_000 });
  });

  it('brings up vifd, the VMs on two VLANs and the refused VM, with the ping matrix as expected', async () => {
    const up = await tryRun([process.execPath, LAB, 'up'], { timeoutMs: 400_000 });
    assert.equal(up.code, 0, `lab up failed:\n${up.stdout}\n${up.stderr}`);
    assert.match(up.stdout, /refused: VM "vifdlab-big": asks for 8 VIFs; the limit is 7 \(host default\)/);
    assert.match(up.stdout, /lab: every cell as expected: reach within each VLAN, blocked across VLANs/);
    const table = up.stdout.slice(up.stdout.indexOf('VIFs (vifctl status):'));
    for (const vm of ['vifdlab-web', 'vifdlab-db', 'vifdlab-app']) assert.match(table, new RegExp(`^${vm}  .* ok$`, 'm'));
    assert.doesNotMatch(table.slice(0, table.indexOf('ping matrix')), /vifdlab-big/);
  });

  it('tears it all down: no domain, bridge, namespace or TAP of the lab, nothing of vifd installed', async () => {
    const down = await tryRun([process.execPath, LAB, 'down'], { timeoutMs: 300_000 });
    assert.equal(down.code, 0, `lab down failed:\n${down.stdout}\n${down.stderr}`);
    assert.match(down.stdout, /lab: final check: verified gone/);
    assert.deepEqual((await listDomains()).filter((name) => name.startsWith('vifdlab')), []);
    assert.deepEqual((await listBridges()).filter((name) => name === 'br-vifdlab'), []);
    assert.deepEqual((await listNetns()).filter((name) => name.startsWith('vifdlab')), []);
    assert.deepEqual((await listLinks()).filter((name) => name.startsWith('vifdlab') || /^vd[a-z2-7]{9}-\d+$/.test(name)), []);
    for (const path of ['/etc/libvirt/hooks/qemu.d/vifd', '/usr/local/lib/vifd', '/usr/local/bin/vifd', '/run/vifd-lab.pid']) {
      assert.equal(existsSync(path), false, `${path} is left behind`);
    }
  });
});
