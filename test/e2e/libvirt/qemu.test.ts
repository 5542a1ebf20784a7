// The libvirt binding against the real libvirtd with real QEMU guests: the
// whole domain life through the binding, NIC attach/detach seen by the guest,
// `vifctl events --json` watching virsh, and libvirtd killed and restarted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { LibvirtConnection, openHandles } from '../../../src/libvirt/connection.js';
import type { DomainEvent } from '../../../src/libvirt/events.js';
import { run } from '../../harness/exec.js';
import { GUEST_READY, guestDomainXml, interfaceXml, nicUpLine } from '../../harness/guest.js';
import { Lab } from '../../harness/lab.js';
import { vifctlCommand } from '../../harness/programs.js';
import { LIBVIRT_URI, removeDomain, waitForSerialLine } from '../../harness/libvirt.js';
import { uniqueName } from '../../harness/names.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const HOT_MAC = '52:54:00:7e:20:01';

function eventQueue(connection: LibvirtConnection): (match: (event: DomainEvent) => boolean, ms?: number) => Promise<DomainEvent> {
  const seen: DomainEvent[] = [];
  connection.on('event', (event) => seen.push(event));
  return async (match, ms = 60_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const index = seen.findIndex(match);
      if (index >= 0) return seen.splice(index, 1)[0]!;
      if (Date.now() > end) throw new Error(`no matching event; saw ${JSON.stringify(seen.map((e) => e.type === 'lifecycle' ? `${e.event}/${e.detail}` : e.type))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
}

const lifecycle = (name: string, event: string, detail: string) => (e: DomainEvent): boolean =>
  e.type === 'lifecycle' && e.domain.name === name && e.event === event && e.detail === detail;

describe('e2e: libvirt binding with real libvirtd and QEMU guests', function () {
  this.timeout(300_000);
  let lab: Lab;
  let connection: LibvirtConnection | null = null;

  before(async function () {
    await requirePrerequisites(this, ['root', 'libvirt', 'guest-image']);
  });
  beforeEach(() => { lab = new Lab(); });
  afterEach(async () => {
    await connection?.close();
    connection = null;
    await lab.cleanup();
    assert.equal(openHandles(), 0, 'domain handles leaked');
  });

  /** A persistent guest definition; removed (destroy + undefine) at cleanup. */
  async function guestXml(): Promise<{ name: string; xml: string; serialLog: string }> {
    const name = uniqueName('domain');
    lab.defer(`domain ${name}`, () => removeDomain(name));
    const serialLog = lab.scratchPath(`${name}.serial.log`);
    const xml = guestDomainXml({ name, domainType: await lab.guestDomainType(), nics: [], serialLog, laterNics: [{ mac: HOT_MAC, cidr: '203.0.113.9/24' }] });
    return { name, xml, serialLog };
  }

  it('defines, starts, hot-plugs a NIC (live and config), unplugs it, destroys and undefines a guest, with events', async () => {
    connection = await LibvirtConnection.open({ uri: LIBVIRT_URI });
    const next = eventQueue(connection);
    const { name, xml, serialLog } = await guestXml();
    const info = await connection.defineDomain(xml);
    assert.deepEqual([info.name, info.state, info.persistent], [name, 'shutoff', true]);
    await next(lifecycle(name, 'defined', 'added'));
    await connection.startDomain({ name });
    const started = await next(lifecycle(name, 'started', 'booted'));
    assert.ok(started.domain.id > 0);
    assert.equal((await connection.getDomain({ uuid: info.uuid })).state, 'running');
    await waitForSerialLine(serialLog, GUEST_READY, 90_000);

    const tap = await lab.tap();
    await connection.attachDevice({ name }, interfaceXml({ tap, mac: HOT_MAC }), { live: true });
    const added = await next((e) => e.type === 'device-added' && e.domain.name === name);
    assert.ok(added.type === 'device-added' && /^net\d+$/.test(added.device), JSON.stringify(added));
    await waitForSerialLine(serialLog, nicUpLine(HOT_MAC), 60_000);
    assert.match(await connection.domainXml({ name }), new RegExp(`<target dev='${tap}' managed='no'/>`));
    assert.doesNotMatch(await connection.domainXml({ name }, { inactive: true }), new RegExp(tap), 'a live-only attach changed the persistent definition');

    await connection.detachDevice({ name }, `<interface type='ethernet'><mac address='${HOT_MAC}'/></interface>`, { live: true });
    const removed = await next((e) => e.type === 'device-removed' && e.domain.name === name);
    assert.ok(removed.type === 'device-removed' && removed.device === added.device);

    // --config only: the persistent definition gains the NIC, the running guest does not.
    const configTap = await lab.tap();
    await connection.attachDevice({ name }, interfaceXml({ tap: configTap, mac: '52:54:00:7e:20:02' }), { config: true });
    assert.match(await connection.domainXml({ name }, { inactive: true }), new RegExp(`<target dev='${configTap}' managed='no'/>`));
    assert.doesNotMatch(await connection.domainXml({ name }), new RegExp(configTap));
    await connection.detachDevice({ name }, `<interface type='ethernet'><mac address='52:54:00:7e:20:02'/></interface>`, { config: true });
    assert.doesNotMatch(await connection.domainXml({ name }, { inactive: true }), new RegExp(configTap));

    await connection.destroyDomain({ name });
    await next(lifecycle(name, 'stopped', 'destroyed'));
    await connection.undefineDomain({ name });
    await next(lifecycle(name, 'undefined', 'removed'));
  });

  it('vifctl events --json shows a guest started and destroyed with virsh', async () => {
    const { name, xml } = await guestXml();
    const xmlPath = lab.scratchPath(`${name}.xml`);
    writeFileSync(xmlPath, xml);
    await run(['virsh', '-q', '-c', LIBVIRT_URI, 'define', xmlPath]);
    const [vifctl = '', ...args] = vifctlCommand();
    const child = spawn(vifctl, [...args, 'events', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    lab.defer('vifctl events', async () => {
      if (child.exitCode === null) { child.kill('SIGTERM'); await new Promise((resolve) => child.once('exit', resolve)); }
    });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout }).on('line', (text) => lines.push(JSON.parse(text) as Record<string, unknown>));
    const waitFor = async (match: (line: Record<string, unknown>) => boolean): Promise<void> => {
      const end = Date.now() + 60_000;
      while (!lines.some(match)) {
        if (Date.now() > end) throw new Error(`vifctl printed ${JSON.stringify(lines)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await waitFor((line) => line.type === 'connection' && line.state === 'open');
    await run(['virsh', '-q', '-c', LIBVIRT_URI, 'start', name]);
    await waitFor((line) => line.event === 'started' && line.detail === 'booted' && (line.domain as { name: string }).name === name);
    await run(['virsh', '-q', '-c', LIBVIRT_URI, 'destroy', name]);
    await waitFor((line) => line.event === 'stopped' && line.detail === 'destroyed' && (line.domain as { name: string }).name === name);
    child.kill('SIGTERM');
    const [code] = await new Promise<[number | null]>((resolve) => child.once('exit', (exitCode) => { resolve([exitCode]); }));
    assert.equal(code, 0);
  });

  it('reconnects after libvirtd is killed and restarted, then events flow again', async () => {
    connection = await LibvirtConnection.open({ uri: LIBVIRT_URI, reconnectInitialMs: 200, reconnectMaxMs: 1000 });
    const next = eventQueue(connection);
    const disconnected = new Promise((resolve) => connection!.once('disconnected', resolve));
    const resynced = new Promise<void>((resolve) => connection!.once('resync', () => { resolve(); }));
    await run(['pkill', '-x', 'libvirtd']);
    await disconnected;
    assert.equal(connection.isConnected, false);
    await run(['scripts/host-setup.sh'], { timeoutMs: 120_000 }); // starts libvirtd again, as on a fresh host
    await resynced;
    assert.ok(connection.isConnected);
    const { name, xml } = await guestXml();
    await connection.defineDomain(xml);
    await next(lifecycle(name, 'defined', 'added'));
    await connection.undefineDomain({ name });
    await next(lifecycle(name, 'undefined', 'removed'));
  });
});
