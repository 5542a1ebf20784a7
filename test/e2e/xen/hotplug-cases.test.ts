// The Xen hotplug cases end to end, without a guest: a real vifd daemon, the
// host's Open vSwitch and the installed vif hotplug script, run by the
// toolstack stand-in with libxl's and xenopsd's exact argv and environment
// against the simulated xenstore: the VIF limit, a repeated call, unplug, a
// crash of vifd while the domain dies, and hostile xenstore values.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { callControl } from '../../../src/api/control-client.js';
import { DaemonProcess } from '../../harness/daemon.js';
import { Lab } from '../../harness/lab.js';
import { linkExists } from '../../harness/net.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { eventually } from '../../harness/vifd-guest.js';
import { requireXenScript } from '../../harness/xen/script.js';
import { SimXenStore } from '../../harness/xen/store.js';
import { xenPort } from '../../harness/xen/switch.js';
import { XenToolstackStandIn, deviceName } from '../../harness/xen/toolstack.js';
import type { StandInDomain, StandInVif, Toolstack } from '../../harness/xen/toolstack.js';

const hex = (byte: number): string => byte.toString(16).padStart(2, '0');
/**
 * Every domain of the suite has its own MACs: a dead domain's port keeps its
 * MAC until vifd's GC takes it, and vifd refuses a MAC another VM's port holds.
 */
let domains = 0;
const xapiKeys = (): Record<string, string> => ({ 'vif-uuid': randomUUID(), 'network-uuid': randomUUID(), MTU: '1500', 'locking-mode': 'unlocked' });

describe('e2e: Xen hotplug cases through the installed vif script and a real vifd (limit, repeats, unplug, crash and GC, hostile xenstore)', function () {
  this.timeout(180_000);
  const lab = new Lab();
  let daemon: DaemonProcess;
  let bridge: string;
  let store: SimXenStore;
  let standIn: XenToolstackStandIn;

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt']);
    const script = requireXenScript(this);
    bridge = await lab.bridge();
    daemon = await DaemonProcess.start(lab, { networks: { xen: { bridge } } });
    store = SimXenStore.create();
    lab.defer('simulated xenstore', () => { store.destroy(); return Promise.resolve(); });
    standIn = new XenToolstackStandIn(store, script);
    lab.defer('stand-in domains and their TAPs', () => { standIn.close(); return Promise.resolve(); });
  });

  after(() => lab.cleanup());

  /** A domain of `count` VIFs on VLAN 100, each as its toolstack names the bridge. */
  const domain = (toolstack: Toolstack, count: number, vif: (devid: number) => Partial<StandInVif> = () => ({})): StandInDomain => {
    domains += 1;
    return standIn.createDomain({
      toolstack, uuid: randomUUID(), name: `xen-e2e-${toolstack}`,
      vifs: Array.from({ length: count }, (_, devid) => ({
        devid, mac: `00:16:3e:5b:${hex(domains)}:${hex(devid)}`, bridge: `${bridge}.100`,
        ...(toolstack === 'xenopsd' ? { bridge, xapiKeys: xapiKeys() } : {}), ...vif(devid),
      })),
    });
  };
  const backend = (d: StandInDomain, devid: number): string => `/local/domain/0/backend/vif/${d.domid}/${devid}`;
  const hotplugNode = (d: StandInDomain, devid: number): string => `/xapi/${d.uuid}/hotplug/${d.domid}/vif/${devid}/hotplug`;
  const plugged = async (d: StandInDomain, devid: number): Promise<void> => {
    for (const call of await standIn.plug(d, devid)) assert.equal(call.code, 0, `${call.argv.join(' ')} ${deviceName(d, devid, 'vif')}: ${call.stderr}`);
  };
  /** Unplugs what is plugged and lets the domain go, so the next case starts from an empty switch. */
  const teardown = async (d: StandInDomain, devids: readonly number[]): Promise<void> => {
    const calls = (await Promise.all(devids.map((devid) => standIn.unplug(d, devid)))).flat();
    for (const call of calls) assert.equal(call.code, 0, call.stderr);
    standIn.destroyDomain(d);
  };

  for (const toolstack of ['libxl', 'xenopsd'] as const) {
    it(`${toolstack}: the 8th VIF is refused with hotplug-error and nothing plugged; the 7 others stay`, async () => {
      const d = domain(toolstack, 8);
      const seven = [0, 1, 2, 3, 4, 5, 6];
      // All at once, as xenopsd plugs a VM's VIFs in parallel: the daemon serializes one VM's work.
      await Promise.all(seven.map((devid) => plugged(d, devid)));
      const refused = (await standIn.plug(d, 7)).at(-1)!;
      assert.notEqual(refused.code, 0, 'the 8th VIF was accepted');
      const error = store.read(`${backend(d, 7)}/hotplug-error`) ?? '';
      assert.match(error, /8 VIFs.*limit is 7/, error);
      assert.match(error, new RegExp(`xen-e2e-${toolstack}`), 'the reason names the VM');
      assert.equal(refused.stderr.trimEnd().split('\n').length, 1, `one line on stderr: ${refused.stderr}`);
      if (toolstack === 'libxl') assert.equal(store.read(`${backend(d, 7)}/hotplug-status`), 'error');
      else assert.equal(store.exists(hotplugNode(d, 7)), false, 'xenopsd would take the VIF as online');
      assert.equal(await xenPort(deviceName(d, 7, 'vif')), null, 'the refused VIF has a port');
      const tag = toolstack === 'libxl' ? 100 : null; // BRIDGE.100 for libxl, the plain bridge for xenopsd
      for (const devid of seven) assert.equal((await xenPort(deviceName(d, devid, 'vif')))?.tag, tag, `VIF ${devid}`);
      standIn.destroyDomain(d); // the domain dies with its devices: vifd's own cleanup (shown below) takes the ports
    });

    it(`${toolstack}: the script called twice for one event changes nothing (xenstore, port rows, daemon work)`, async () => {
      const d = domain(toolstack, 1);
      const device = deviceName(d, 0, 'vif');
      await plugged(d, 0);
      const [keys, port] = [store.dump(), await xenPort(device)];
      assert.notEqual(port, null);
      await plugged(d, 0);
      if (toolstack === 'xenopsd') assert.equal((await standIn.run(d, 0, 'online', 'vif', { udev: true })).code, 0, 'the udev form');
      assert.deepEqual(store.dump(), keys);
      assert.deepEqual(await xenPort(device), port, 'the same Port and Interface rows, unchanged');
      const plugs = daemon.log.split('\n').filter((line) => line.includes(`plugged ${device} `));
      assert.equal(plugs.length, 1, `the daemon plugged ${device} more than once:\n${plugs.join('\n')}`);
      await teardown(d, [0]);
    });

    it(`${toolstack}: ${toolstack === 'libxl' ? 'offline' : 'remove'} removes the port and clears what the toolstack waits on; the device is left to netback`, async () => {
      const d = domain(toolstack, 1);
      const device = deviceName(d, 0, 'vif');
      await plugged(d, 0);
      for (const call of await standIn.unplug(d, 0)) assert.equal(call.code, 0, call.stderr);
      assert.equal(await xenPort(device), null, 'the port is still there');
      assert.ok(await linkExists(device), 'vifd removed the device netback owns');
      if (toolstack === 'xenopsd') assert.equal(store.exists(hotplugNode(d, 0)), false);
      standIn.destroyDomain(d);
    });
  }

  it('vifd SIGKILLed, the domain dies (netback removes its devices), vifd restarted: GC removes the orphan port', async () => {
    const d = domain('libxl', 2);
    await Promise.all([plugged(d, 0), plugged(d, 1)]);
    await daemon.kill();
    // libxl runs offline as the domain dies; with no daemon the script succeeds and leaves the port to GC.
    const offline = (await Promise.all([standIn.unplug(d, 0), standIn.unplug(d, 1)])).flat();
    standIn.destroyDomain(d);
    const devices = [deviceName(d, 0, 'vif'), deviceName(d, 1, 'vif')];
    // Read before the restart, asserted after it, so a failure leaves a serving daemon to the next cases.
    const goneEarly = (await Promise.all(devices.map(async (device) => ((await xenPort(device)) === null ? [device] : [])))).flat();
    await daemon.launch();
    await daemon.started();
    for (const call of offline) assert.equal(call.code, 0, `${call.argv.join(' ')} with vifd down: ${call.stderr}`);
    assert.deepEqual(goneEarly, [], 'ports went while vifd was down (another vifd on this host\'s switch?)');
    await daemon.call('gc');
    await eventually('the orphan ports to go', async () => (await Promise.all(devices.map(xenPort))).every((port) => port === null), 15_000);
  });

  describe('hostile xenstore values: refused clearly, nothing plugged, nothing executed, the daemon keeps serving', () => {
    const canary = (): string => lab.scratchPath('hostile-value-ran');
    const hostile = (): readonly [string, string][] => [
      ['";" with a command', `${bridge};touch ${canary()}`],
      ['"$(..)"', `$(touch ${canary()})`],
      ['backquotes', `\`touch ${canary()}\``],
      ['a newline', `${bridge}\ntouch ${canary()}`],
      ['VLAN 4095', `${bridge}.4095`],
      ['a 300-character name', 'x'.repeat(300)],
    ];

    it('libxl bridge keys: each refused with hotplug-error naming the key, exit 1, no port', async () => {
      await Promise.all(hostile().map(async ([what, value]) => {
        const d = domain('libxl', 1, () => ({ bridge: value }));
        const [call] = await standIn.plug(d, 0);
        assert.equal(call?.code, 1, what);
        assert.match(store.read(`${backend(d, 0)}/hotplug-error`) ?? '', new RegExp(`^VM "xen-e2e-libxl" VIF 0: backend/vif/${d.domid}/0/bridge: `), what);
        assert.equal(await xenPort(deviceName(d, 0, 'vif')), null, `${what}: a port was made`);
        standIn.destroyDomain(d);
      }));
      assert.equal(existsSync(canary()), false, 'a hostile value was executed');
    });

    it('xenopsd private keys (bridge, MTU): each refused with hotplug-error naming the key, no hotplug node, no port', async () => {
      const cases: [string, Partial<StandInVif>][] = [
        ...hostile().map(([what, value]): [string, Partial<StandInVif>] => [what, { bridge: value }]),
        ['MTU with ";"', { xapiKeys: { ...xapiKeys(), MTU: `1500;touch ${canary()}` } }],
      ];
      // Only `online` reads the private keys (xenopsd's `add` of a vif asks nothing).
      await Promise.all(cases.map(async ([what, vif]) => {
        const d = domain('xenopsd', 1, () => vif);
        const call = await standIn.run(d, 0, 'online', 'vif');
        assert.notEqual(call.code, 0, what);
        assert.match(store.read(`${backend(d, 0)}/hotplug-error`) ?? '', new RegExp(`/xapi/${d.uuid}/private/vif/0/(bridge|MTU): `), what);
        assert.equal(store.exists(hotplugNode(d, 0)), false, what);
        assert.equal(await xenPort(deviceName(d, 0, 'vif')), null, `${what}: a port was made`);
        standIn.destroyDomain(d);
      }));
      assert.equal(existsSync(canary()), false, 'a hostile value was executed');
    });

    it('the same values sent straight to the daemon socket are refused, and the daemon then plugs a good VIF', async () => {
      const d = domain('libxl', 1);
      const device = { name: deviceName(d, 0, 'vif'), type: 'vif', domid: d.domid, devid: 0 };
      for (const [what, value] of hostile()) {
        const request = { version: 1, toolstack: 'libxl', command: 'online', action: 'plug', device, vm: { uuid: d.uuid, name: d.name }, mac: d.vifs[0]!.mac, bridge: { bridge: value } };
        await assert.rejects(callControl(daemon.socketPath, 'xen-hotplug', request, { connectTimeoutMs: 5_000 }), /bridge/, what);
      }
      assert.equal(await xenPort(device.name), null);
      assert.equal(existsSync(canary()), false, 'a hostile value was executed');
      await plugged(d, 0);
      assert.equal((await xenPort(device.name))?.tag, 100);
      await teardown(d, [0]);
    });
  });
});
