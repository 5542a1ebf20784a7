// Integration and e2e tests declare what they need. Outside CI a missing
// prerequisite skips the suite with the reason; with CI=true it fails the run,
// because a skipped integration test in CI would hide a broken setup.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandExists, tryRun } from './exec.js';

export type Prerequisite = 'root' | 'ovs' | 'ovs-programs' | 'libvirt' | 'guest-image' | 'ping' | 'vifd-hook' | 'netcat' | 'systemd';

export const guestImageDir = (): string => process.env.VIFD_GUEST_DIR ?? '/var/cache/vifd-test/guest';

async function missingReason(need: Prerequisite): Promise<string | null> {
  switch (need) {
    case 'root':
      return process.getuid?.() === 0 ? null : 'root privileges (run as root)';
    case 'ovs': {
      const result = await tryRun(['ovs-vsctl', '--timeout=5', 'show'], { timeoutMs: 10_000 }).catch(() => null);
      return result?.code === 0 ? null : 'a running Open vSwitch (ovsdb-server + ovs-vswitchd): make setup';
    }
    case 'ovs-programs': {
      // Enough for a private ovsdb-server and ovs-vswitchd (PrivateOvsdbServer); the host's need not run.
      const programs = ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl'];
      const missing = (await Promise.all(programs.map(async (name) => ((await commandExists(name)) ? null : name)))).filter((name) => name !== null);
      return missing.length === 0 ? null : `the Open vSwitch programs ${missing.join(', ')} (package openvswitch-switch): make setup`;
    }
    case 'libvirt': {
      const result = await tryRun(['virsh', '-c', 'qemu:///system', 'version'], { timeoutMs: 15_000 }).catch(() => null);
      return result?.code === 0 ? null : 'a running libvirtd reachable at qemu:///system: make setup';
    }
    case 'guest-image': {
      const dir = guestImageDir();
      const ok = existsSync(join(dir, 'vmlinuz')) && existsSync(join(dir, 'initrd.img'));
      return ok ? null : `the test guest image in ${dir}: make guest-image`;
    }
    case 'vifd-hook':
      // make install puts it there (make test does); libvirtd must have started after it.
      return existsSync('/etc/libvirt/hooks/qemu.d/vifd') ? null : "vifd's libvirt hook in /etc/libvirt/hooks/qemu.d: make install";
    case 'systemd': {
      // private-systemd.ts boots the host's systemd in namespaces of its own (unshare, nsenter: util-linux).
      const missing = ['/lib/systemd/systemd', '/usr/bin/unshare', '/usr/bin/nsenter'].filter((path) => !existsSync(path));
      return missing.length === 0 ? null : `${missing.join(', ')} (packages systemd, util-linux): make setup`;
    }
    case 'ping':
      return (await commandExists('ping')) ? null : 'the ping command (iputils-ping): make setup';
    case 'netcat': {
      // The hook's fast path needs OpenBSD's nc (-U, -N); the traditional netcat has neither.
      const result = await tryRun(['nc', '-h'], { timeoutMs: 10_000 }).catch(() => null);
      return result !== null && /OpenBSD netcat/.test(result.stdout + result.stderr) ? null : 'nc from netcat-openbsd: make setup';
    }
  }
}

export async function requirePrerequisites(context: Mocha.Context, needs: readonly Prerequisite[]): Promise<void> {
  const reasons: string[] = [];
  for (const need of needs) {
    const reason = await missingReason(need);
    if (reason !== null) reasons.push(reason);
  }
  if (reasons.length === 0) return;
  const message = `missing prerequisites: ${reasons.join('; ')}`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`      skipped: ${message}`);
  context.skip();
}
