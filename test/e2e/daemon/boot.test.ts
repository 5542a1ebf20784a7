// A host boot, as on a real host with systemd: vifd and libvirtd start
// together, and libvirtd runs its autostart guests' prepare hooks during its
// own initialisation, before it accepts any client. vifd must serve those
// hooks from its control socket before it has reached libvirtd (which it
// cannot, yet), or every autostart guest is refused at every boot. Simulated
// on a second host (own namespaces, libvirtd, OVS and vifd; second-host.ts)
// so host A's libvirtd keeps running: its guests are defined and marked
// autostart, vifd and libvirtd are stopped, libvirt's "already autostarted"
// marker is removed as a reboot removes it, and both are started at once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { KVM_MAC_PREFIX, deterministicMac, parseMacPrefix } from '../../../src/model/mac.js';
import { deviceName } from '../../../src/model/names.js';
import { DaemonProcess } from '../../harness/daemon.js';
import { vifctlCommand } from '../../harness/programs.js';
import { nicUpLine } from '../../harness/guest.js';
import { Lab } from '../../harness/lab.js';
import type { Probe } from '../../harness/lab.js';
import { waitForSerialLine } from '../../harness/libvirt.js';
import { pingUntilReply } from '../../harness/net.js';
import { uniqueName } from '../../harness/names.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { SecondHost } from '../../harness/second-host.js';
import { vifdGuestXml } from '../../harness/vifd-guest.js';

describe('e2e: a host boot, vifd and libvirtd started together with autostart guests', function () {
  this.timeout(600_000);
  const lab = new Lab();
  let hostB: SecondHost;
  let daemonB: DaemonProcess;
  let probe: Probe;
  const guests: { name: string; uuid: string; address: string; serialLog: string }[] = [];
  const virshB = (...args: string[]): string[] => ['virsh', '-q', '-c', 'qemu:///system', ...args];

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'guest-image', 'ping', 'vifd-hook']);
    const bridgeA = await lab.bridge();
    probe = await lab.probe(bridgeA, '198.51.100.1/24', { tag: 100 });
    hostB = await SecondHost.create(lab, bridgeA);
    daemonB = await DaemonProcess.start(lab, { networks: { red: { bridge: hostB.bridge, vlan: 100 }, blue: { bridge: hostB.bridge, vlan: 200 } } },
      hostB.daemonHost());
    const domainType = await lab.guestDomainType();
    for (const [i, address] of ['198.51.100.81', '198.51.100.82'].entries()) {
      const guest = { name: uniqueName('domain'), uuid: randomUUID(), address, serialLog: lab.scratchPath(`boot-${i}.serial.log`) };
      const xmlPath = lab.scratchPath(`boot-${i}.xml`);
      writeFileSync(xmlPath, vifdGuestXml({ name: guest.name, uuid: guest.uuid, domainType, serialLog: guest.serialLog,
        nics: [{ network: 'red', cidr: `${address}/24` }, { network: 'blue', cidr: `203.0.113.${81 + i}/24` }] }));
      await hostB.exec([...vifctlCommand(), 'define', xmlPath, '--config', daemonB.configPath]);
      await hostB.exec(virshB('autostart', guest.uuid));
      guests.push(guest);
    }
  });

  after(() => lab.cleanup());

  it('runs every autostart guest with its VIFs when both start at once', async () => {
    await daemonB.stop();
    await hostB.stopLibvirtd();
    const marker = hostB.hostPath('/run/libvirt/qemu/autostarted');
    rmSync(marker, { force: true }); // a reboot empties /run
    // libvirtd first: its autostart runs the hooks at once, while vifd is still starting.
    const libvirtd = hostB.startLibvirtd(120_000);
    await daemonB.launch();
    await libvirtd;
    assert.ok(existsSync(marker), 'libvirtd did not run its autostart');
    for (const guest of guests) {
      const state = (await hostB.tryExec(virshB('domstate', guest.uuid))).stdout.trim();
      assert.equal(state, 'running', `autostart guest ${guest.name} is ${state}; libvirtd log:\n${hostB.libvirtdLog()}`);
      const prefix = parseMacPrefix(KVM_MAC_PREFIX);
      for (const [index, tag] of [[0, '100'], [1, '200']] as const) {
        const device = deviceName(guest.uuid, index);
        assert.equal((await hostB.exec(['ovs-vsctl', 'get', 'port', device, 'tag'])).trim(), tag, `${device} of ${guest.name}`);
        assert.equal((await hostB.exec(['cat', `/sys/class/net/${device}/ifalias`])).trim(), `vifd:${guest.uuid}/${index}`);
        await waitForSerialLine(guest.serialLog, nicUpLine(deterministicMac({ vmUuid: guest.uuid, index, prefix }).mac), 120_000);
      }
    }
    // Real packets: host A's probe on VLAN 100 reaches both guests through the trunk to host B's switch.
    for (const guest of guests) assert.ok(await pingUntilReply(probe.netns, guest.address, 30_000), `no reply from ${guest.name}`);
    await daemonB.started();
    assert.doesNotMatch(daemonB.log, /refus/, 'the daemon refused something during the boot');
  });
});
