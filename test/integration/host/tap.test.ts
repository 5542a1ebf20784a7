// TAP effector against the real kernel: what it makes is checked with
// `ip -details -json link show`, independently of vifd's own sysfs reader.
import assert from 'node:assert/strict';
import { DeviceConflictError, HostOperationError } from '../../../src/host/errors.js';
import * as libc from '../../../src/host/libc.js';
import { TapDevices } from '../../../src/host/tap.js';
import { InvalidInputError } from '../../../src/model/errors.js';
import { run } from '../../harness/exec.js';
import { Lab } from '../../harness/lab.js';
import { createVethPair, deleteLink, linkExists } from '../../harness/net.js';
import { uniqueName } from '../../harness/names.js';
import { requirePrerequisites } from '../../harness/prereq.js';

interface IpLink {
  readonly address: string;
  readonly mtu: number;
  readonly flags: readonly string[];
  readonly linkinfo?: { readonly info_kind: string; readonly info_data?: Record<string, unknown> };
}

async function ipLink(name: string): Promise<IpLink> {
  const [link] = JSON.parse(await run(['ip', '-details', '-json', 'link', 'show', 'dev', name])) as IpLink[];
  assert.ok(link !== undefined);
  return link;
}

/** The tun driver's own view of the device (type, pi, persist, owner...). */
async function tunInfo(name: string): Promise<Record<string, unknown>> {
  const link = await ipLink(name);
  assert.equal(link.linkinfo?.info_kind, 'tun', `${name} is not a tun/tap device`);
  assert.ok(link.linkinfo.info_data !== undefined);
  return link.linkinfo.info_data;
}

/**
 * Attaches to a TAP through a second fd, as QEMU does while a VM runs; the
 * kernel refuses another attach to a single-queue TAP while this fd is open.
 */
function holdTapOpen(name: string): () => void {
  const fd = libc.open('/dev/net/tun', libc.O_RDWR | libc.O_CLOEXEC);
  assert.ok(fd >= 0, 'open /dev/net/tun');
  const request = Buffer.alloc(40);
  request.write(name, 0);
  request.writeUInt16LE(0x1002, 16); // IFF_TAP | IFF_NO_PI
  assert.equal(libc.ioctlPointer(fd, 0x400454ca, request), 0, 'TUNSETIFF');
  return () => { libc.close(fd); };
}

describe('integration: host/tap (TAP devices through /dev/net/tun)', function () {
  this.timeout(30_000);
  const taps = new TapDevices();
  let lab: Lab;
  const name = (): string => {
    const tap = uniqueName('tap');
    lab.defer(`TAP ${tap}`, () => deleteLink(tap));
    return tap;
  };

  before(async function () {
    await requirePrerequisites(this, ['root']);
  });
  beforeEach(() => { lab = new Lab(); });
  afterEach(() => lab.cleanup());
  after(() => { taps.close(); });

  it('creates a persistent TAP with its MAC, MTU and up, as ip shows it', async () => {
    const tap = name();
    assert.deepEqual(taps.ensure({ name: tap, mac: '52:54:00:AA:00:01', mtu: 9000 }), { created: true, changed: [] });
    const info = await tunInfo(tap);
    assert.equal(info.type, 'tap');
    assert.equal(info.pi, false);
    assert.equal(info.persist, true);
    const link = await ipLink(tap);
    assert.equal(link.address, '52:54:00:aa:00:01');
    assert.equal(link.mtu, 9000);
    assert.ok(link.flags.includes('UP'));
    assert.deepEqual(taps.read(tap), {
      name: tap, multiQueue: false, vnetHdr: false, owner: null, group: null, mac: '52:54:00:aa:00:01', mtu: 9000, up: true, alias: null,
    });
  });

  it('creates multi-queue, vnet_hdr TAPs with an owner and group', async () => {
    const tap = name();
    taps.ensure({ name: tap, multiQueue: true, vnetHdr: true, owner: 64055, group: 64055, up: false });
    const info = await tunInfo(tap);
    assert.equal(info.multi_queue, true);
    assert.equal(info.vnet_hdr, true);
    assert.equal(info.user, 64055);
    assert.equal(info.group, 64055);
    assert.equal((await ipLink(tap)).flags.includes('UP'), false);
  });

  it('is idempotent, and repairs drift in MAC, MTU and link state', async () => {
    const tap = name();
    const spec = { name: tap, mac: '52:54:00:aa:00:02', mtu: 1400 };
    taps.ensure(spec);
    assert.deepEqual(taps.ensure(spec), { created: false, changed: [] });
    await run(['ip', 'link', 'set', 'dev', tap, 'down', 'mtu', '1500', 'address', '52:54:00:aa:00:99']);
    assert.deepEqual(taps.ensure(spec), { created: false, changed: ['mac', 'mtu', 'up'] });
    const link = await ipLink(tap);
    assert.equal(link.mtu, 1400);
    assert.equal(link.address, '52:54:00:aa:00:02');
    assert.ok(link.flags.includes('UP'));
  });

  it('marks a TAP with an alias, repairs it, and refuses one the kernel would cut', async () => {
    const tap = name();
    const spec = { name: tap, alias: 'vifd:3f2504e0-4f89-11d3-9a0c-0305e82c3301/0' };
    assert.deepEqual(taps.ensure(spec), { created: true, changed: [] });
    assert.equal((await ipLink(tap) as IpLink & { ifalias?: string }).ifalias, spec.alias);
    await run(['ip', 'link', 'set', 'dev', tap, 'alias', 'someone else']);
    assert.deepEqual(taps.ensure(spec), { created: false, changed: ['alias'] });
    assert.equal(taps.read(tap)?.alias, spec.alias);
    assert.throws(() => taps.ensure({ name: tap, alias: 'a\nb' }), /newline/);
    assert.throws(() => taps.ensure({ name: tap, alias: 'x'.repeat(256) }), /255 bytes/);
    assert.equal(taps.read(tap)?.alias, spec.alias);
  });

  it('accepts the vnet_hdr an attacher set unless the caller asks for a value', () => {
    const tap = name();
    taps.ensure({ name: tap, vnetHdr: true });
    assert.deepEqual(taps.ensure({ name: tap }), { created: false, changed: [] });
    assert.throws(() => taps.ensure({ name: tap, vnetHdr: false }), /vnet_hdr is true/);
  });

  it('refuses a TAP that exists with other flags or owner, and changes nothing', async () => {
    const tap = name();
    taps.ensure({ name: tap, multiQueue: true });
    assert.throws(() => taps.ensure({ name: tap }), (error: unknown) =>
      error instanceof DeviceConflictError && /exists with other settings \(multi_queue is true\)/.test(error.message));
    assert.throws(() => taps.ensure({ name: tap, multiQueue: true, owner: 1 }), /owner is null/);
    assert.equal((await tunInfo(tap)).multi_queue, true);
  });

  it('refuses names taken by other kinds of devices, and never deletes them', async () => {
    const [veth, peer] = [uniqueName('veth'), uniqueName('veth')];
    lab.defer(`veth ${veth}`, () => deleteLink(veth));
    await createVethPair(veth, peer);
    assert.throws(() => taps.ensure({ name: veth }), /exists and is not a TAP device/);
    assert.throws(() => taps.delete(veth), /is not a TAP device; vifd will not delete it/);
    assert.ok(await linkExists(veth));
  });

  it('validates before it touches the kernel', async () => {
    const tap = name();
    assert.throws(() => taps.ensure({ name: 'x'.repeat(16) }), InvalidInputError);
    assert.throws(() => taps.ensure({ name: tap, mac: '01:00:5e:00:00:01' }), /multicast/);
    assert.equal(await linkExists(tap), false);
  });

  it('removes a TAP whose settings cannot be applied (nothing half-made)', async () => {
    const tap = name();
    assert.throws(() => taps.ensure({ name: tap, mtu: 70_000 }), (error: unknown) =>
      error instanceof HostOperationError && new RegExp(`TAP ${tap}: SIOCSIFMTU failed: Invalid argument`).test(error.message));
    assert.equal(await linkExists(tap), false);
  });

  it('deletes, and deleting twice is fine', async () => {
    const tap = name();
    taps.ensure({ name: tap, multiQueue: true });
    assert.equal(taps.delete(tap), true);
    assert.equal(await linkExists(tap), false);
    assert.equal(taps.delete(tap), false);
  });

  it('will not delete a TAP a process still holds, and says so', async () => {
    const tap = name();
    taps.ensure({ name: tap });
    const release = holdTapOpen(tap);
    try {
      assert.throws(() => taps.delete(tap), /TUNSETIFF \(is a VM still using it\?\) failed: Device or resource busy/);
      assert.ok(await linkExists(tap));
    } finally {
      release();
    }
    assert.equal(taps.delete(tap), true);
  });

  it('lists TAPs and only TAPs', () => {
    const tap = name();
    taps.ensure({ name: tap });
    const listed = taps.list();
    assert.ok(listed.some((state) => state.name === tap));
    assert.ok(listed.every((state) => state.name !== 'lo'));
  });
});
