// What the package's hook layout and postinst rely on, checked against a real
// libvirtd: a private one, in its own mount and network namespaces, so the
// host's libvirtd and its guests are never touched. The package installs the
// hook as a symlink in /etc/libvirt/hooks/qemu.d (so a removed package leaves
// no hook that would refuse every VM), and its postinst reloads libvirtd
// instead of restarting it. Shown here: a libvirtd that started before the
// hook existed does not run it; after SIGHUP (systemctl reload) it runs the
// symlinked hook, and a dangling link beside it is ignored.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requirePrerequisites } from '../harness/prereq.js';
import { requireDebianTools } from '../harness/debian-packages.js';
import { tryRun } from '../harness/exec.js';

const EXPERIMENT = resolve('test/fixtures/package/libvirt-hook-reload.sh');

describe('integration: libvirtd and the packaged hook layout (a private libvirtd)', function () {
  this.timeout(180_000);
  let scratch = '';

  before(async function () {
    await requirePrerequisites(this, ['root']);
    await requireDebianTools(this, [
      { command: 'libvirtd', debianPackage: 'libvirt-daemon' },
      { command: 'virtlogd', debianPackage: 'libvirt-daemon' },
      { command: 'virsh', debianPackage: 'libvirt-clients' },
      { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86' },
      { command: 'unshare', debianPackage: 'util-linux' },
    ]);
    scratch = mkdtempSync(join(tmpdir(), 'vifd-test-hooks-'));
    mkdirSync(join(scratch, 'etc'));
  });
  after(() => {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it('a libvirtd started before the hook ignores it; after SIGHUP it runs the symlinked hook and skips a dangling one', async () => {
    const result = await tryRun(['unshare', '--mount', '--net', '--propagation', 'private', 'bash', EXPERIMENT, scratch],
      { timeoutMs: 150_000 });
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    const lines = result.stdout.replace(/\n$/, '').split('\n');
    assert.deepEqual(lines, [
      'before-reload: started',
      'before-reload: hook log: ',
      'after-reload: refused: refused-by-the-probe-hook',
      'after-reload: hook log: prepare stopped release ',
    ], result.stderr);
  });
});
