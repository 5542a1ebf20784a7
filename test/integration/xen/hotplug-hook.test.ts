// The Xen vif hotplug hook as xl/libvirt-libxl and xenopsd run it: the
// toolstack stand-in writes the simulated store, creates the netback-named
// TAPs and runs hooks/xen/vif-vifd (rendered as install.sh renders it) with
// each toolstack's exact argv and environment; a ControlServer stands in for
// the daemon and records the exact requests it receives.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../../src/api/control-server.js';
import { LimitExceededError } from '../../../src/model/errors.js';
import { XEN_HOTPLUG_METHOD } from '../../../src/sources/xen-hotplug/protocol.js';
import type { XenHotplugResult } from '../../../src/sources/xen-hotplug/protocol.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { SimXenStore } from '../../harness/xen/store.js';
import { XenToolstackStandIn, makeScriptDir, removeScriptDir, renderVifVifd } from '../../harness/xen/toolstack.js';
import type { StandInDomain, StandInVif, Toolstack } from '../../harness/xen/toolstack.js';

const UUID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const VIF_UUID = '6b1f0f4e-2f0a-4d7e-9a51-0c1d2e3f4a5b';
const NET_UUID = '0e1d2c3b-4a59-4876-8a9b-aabbccddeeff';
const MAC = '00:16:3e:12:34:56';

describe('integration: the Xen vif hotplug hook (toolstack stand-in, simulated xenstore)', function () {
  this.timeout(60_000);
  let store: SimXenStore;
  let scriptDir: string;
  let socketDir: string;
  let socket: string;
  let server: ControlServer | null = null;
  let standIn: XenToolstackStandIn;
  let requests: unknown[];
  let answer: (params: unknown) => Promise<XenHotplugResult>;

  before(async function () { await requirePrerequisites(this, ['root']); });

  beforeEach(async () => {
    store = SimXenStore.create();
    scriptDir = makeScriptDir();
    socketDir = mkdtempSync(join(tmpdir(), 'vifd-xen-sock-'));
    socket = join(socketDir, 'vifd.sock');
    requests = [];
    answer = () => Promise.resolve({ outcome: 'plugged', bridge: 'xenbr0' });
    server = await ControlServer.listen(socket, {
      [XEN_HOTPLUG_METHOD]: (params) => { requests.push(params); return answer(params); },
    });
    standIn = new XenToolstackStandIn(store, renderVifVifd(scriptDir), { VIFD_SOCKET: socket, VIFD_HOOK_CONNECT_TIMEOUT_MS: '300' });
  });

  afterEach(async () => {
    standIn.close();
    await server?.close();
    server = null;
    store.destroy();
    removeScriptDir(scriptDir);
    rmSync(socketDir, { recursive: true, force: true });
  });

  const domain = (toolstack: Toolstack, vifs: readonly Partial<StandInVif>[] = [{}], name = 'web1'): StandInDomain =>
    standIn.createDomain({
      toolstack, uuid: UUID, name,
      vifs: vifs.map((vif, devid) => ({
        devid, mac: MAC, bridge: toolstack === 'libxl' ? 'xenbr0.100' : 'xenbr0',
        ...(toolstack === 'xenopsd' ? { xapiKeys: { 'vif-uuid': VIF_UUID, 'network-uuid': NET_UUID, MTU: '1500', 'locking-mode': 'unlocked' } } : {}),
        ...vif,
      })),
    });

  const backend = (d: StandInDomain, devid = 0, kind = 'vif'): string => `/local/domain/0/backend/${kind}/${d.domid}/${devid}`;
  const hotplugNode = (d: StandInDomain, devid = 0): string => `/xapi/${UUID}/hotplug/${d.domid}/vif/${devid}`;

  describe('libxl (xl, libvirt-libxl)', () => {
    it('online type_if=vif: sends one plug request with the keys read, writes hotplug-status=connected, exits 0', async () => {
      const d = domain('libxl');
      const [run] = await standIn.plug(d, 0);
      assert.equal(run?.code, 0, run?.stderr);
      assert.deepEqual(run.argv, ['online', 'type_if=vif']);
      assert.deepEqual(requests, [{
        version: 1, toolstack: 'libxl', command: 'online', action: 'plug',
        device: { name: `vif${d.domid}.0`, type: 'vif', domid: d.domid, devid: 0 },
        vm: { uuid: UUID, name: 'web1' }, mac: MAC, bridge: { bridge: 'xenbr0', vlan: 100 },
      }]);
      assert.equal(store.read(`${backend(d)}/hotplug-status`), 'connected');
      assert.equal(store.exists(`${backend(d)}/hotplug-error`), false);
    });

    it('passes trunks from BRIDGE.VLAN:TRUNK:TRUNK', async () => {
      const d = domain('libxl', [{ bridge: 'xenbr0:300:200' }]);
      await standIn.plug(d, 0);
      assert.deepEqual((requests[0] as { bridge: unknown }).bridge, { bridge: 'xenbr0', trunks: [200, 300] });
    });

    it('a refusal: hotplug-error with the reason, hotplug-status=error, exit 1 with one line on stderr', async () => {
      answer = () => Promise.reject(new LimitExceededError('asks for 8 VIFs; the limit is 7 (host default)', { domain: 'web1' }));
      const d = domain('libxl');
      const [run] = await standIn.plug(d, 0);
      assert.equal(run?.code, 1);
      assert.equal(store.read(`${backend(d)}/hotplug-error`), 'VM "web1": asks for 8 VIFs; the limit is 7 (host default)');
      assert.equal(store.read(`${backend(d)}/hotplug-status`), 'error');
      assert.equal(run.stderr, `vifd: refused online vif${d.domid}.0 (domain ${d.domid}): VM "web1": asks for 8 VIFs; the limit is 7 (host default)\n`);
    });

    it('an HVM guest: online type_if=vif then add type_if=tap for vifD.N-emu; offline and remove unplug both, writing nothing', async () => {
      const d = domain('libxl', [{ emulated: true }]);
      const runs = await standIn.plug(d, 0);
      assert.deepEqual(runs.map((run) => [run.argv, run.code, run.env.INTERFACE, run.env.vif]), [
        [['online', 'type_if=vif'], 0, `vif${d.domid}.0-emu`, `vif${d.domid}.0`],
        [['add', 'type_if=tap'], 0, `vif${d.domid}.0-emu`, `vif${d.domid}.0`],
      ]);
      assert.deepEqual(requests.map((r) => (r as { device: unknown }).device), [
        { name: `vif${d.domid}.0`, type: 'vif', domid: d.domid, devid: 0 },
        { name: `vif${d.domid}.0-emu`, type: 'tap', domid: d.domid, devid: 0 },
      ]);
      const before = store.dump();
      answer = () => Promise.resolve({ outcome: 'unplugged' });
      const down = await standIn.unplug(d, 0);
      assert.deepEqual(down.map((run) => [run.argv, run.code]), [[['offline', 'type_if=vif'], 0], [['remove', 'type_if=tap'], 0]]);
      assert.deepEqual(requests.slice(2), [
        { version: 1, toolstack: 'libxl', command: 'offline', action: 'unplug', device: { name: `vif${d.domid}.0`, type: 'vif', domid: d.domid, devid: 0 }, vm: { uuid: UUID, name: 'web1' } },
        { version: 1, toolstack: 'libxl', command: 'remove', action: 'unplug', device: { name: `vif${d.domid}.0-emu`, type: 'tap', domid: d.domid, devid: 0 }, vm: { uuid: UUID, name: 'web1' } },
      ]);
      assert.deepEqual(store.dump(), before);
    });

    it('libxl commands for the other type do nothing and ask nothing (offline type_if=tap, add type_if=vif)', async () => {
      const d = domain('libxl', [{ emulated: true }]);
      assert.equal((await standIn.run(d, 0, 'add', 'vif')).code, 0);
      assert.deepEqual(requests, []);
    });
  });

  describe('xenopsd (XenServer, XCP-ng)', () => {
    it('direct call without type_if: add asks nothing, online plugs with the private keys and writes the hotplug node', async () => {
      const d = domain('xenopsd');
      const runs = await standIn.plug(d, 0);
      assert.deepEqual(runs.map((run) => [run.argv, run.code]), [[['add'], 0], [['online'], 0]]);
      assert.deepEqual(runs[1]?.env, { ...runs[1]?.env, XENBUS_TYPE: 'vif', XENBUS_PATH: `backend/vif/${d.domid}/0`, INTERFACE: `vif${d.domid}.0`, XENBUS_PREFIX: '' });
      assert.deepEqual(requests, [{
        version: 1, toolstack: 'xenopsd', command: 'online', action: 'plug',
        device: { name: `vif${d.domid}.0`, type: 'vif', domid: d.domid, devid: 0 },
        vm: { uuid: UUID, name: 'web1' }, mac: MAC, bridge: { bridge: 'xenbr0' }, mtu: 1500,
        xapi: { vifUuid: VIF_UUID, networkUuid: NET_UUID, lockingMode: 'unlocked' },
      }]);
      assert.equal(store.read(`${hotplugNode(d)}/hotplug`), 'online');
      assert.equal(store.read(`${hotplugNode(d)}/vif`), `vif${d.domid}.0`);
      assert.equal(store.read(`${backend(d)}/hotplug-status`), 'connected');
    });

    it('the udev form (type_if given) sends the same request', async () => {
      const d = domain('xenopsd');
      assert.equal((await standIn.run(d, 0, 'online', 'vif', { udev: true })).code, 0);
      assert.equal((await standIn.run(d, 0, 'online', 'vif')).code, 0);
      assert.equal(requests.length, 2);
      assert.deepEqual(requests[0], requests[1]);
    });

    it('the emulated NIC tapD.N: type from XENBUS_TYPE, with and without type_if; trunks and final-uuid pass through', async () => {
      const finalUuid = '11111111-2222-4333-8444-555555555555';
      const d = domain('xenopsd', [{ emulated: true, xapiKeys: { 'vif-uuid': VIF_UUID, 'network-uuid': NET_UUID, trunks: '200,300' } }]);
      store.write(`/vm/${UUID}/final-uuid`, finalUuid);
      assert.equal((await standIn.run(d, 0, 'add', 'tap')).code, 0);
      assert.equal((await standIn.run(d, 0, 'add', 'tap', { udev: true })).code, 0);
      assert.deepEqual(requests[0], {
        version: 1, toolstack: 'xenopsd', command: 'add', action: 'plug',
        device: { name: `tap${d.domid}.0`, type: 'tap', domid: d.domid, devid: 0 },
        vm: { uuid: UUID, finalUuid, name: 'web1' }, mac: MAC, bridge: { bridge: 'xenbr0', trunks: [200, 300] },
        xapi: { vifUuid: VIF_UUID, networkUuid: NET_UUID },
      });
      assert.deepEqual(requests[1], requests[0]);
      assert.equal(store.exists(`/xapi/${UUID}/hotplug/${d.domid}/tap/0/hotplug`), false, 'xenopsd waits on the vif only');
    });

    it('remove: one unplug request; the hotplug node and hotplug-status go, as xenopsd waits for', async () => {
      const d = domain('xenopsd');
      await standIn.plug(d, 0);
      answer = () => Promise.resolve({ outcome: 'unplugged' });
      const [run] = await standIn.unplug(d, 0);
      assert.equal(run?.code, 0, run?.stderr);
      assert.deepEqual(requests[1], {
        version: 1, toolstack: 'xenopsd', command: 'remove', action: 'unplug',
        device: { name: `vif${d.domid}.0`, type: 'vif', domid: d.domid, devid: 0 }, vm: { uuid: UUID, name: 'web1' },
      });
      assert.equal(store.exists(`${hotplugNode(d)}/hotplug`), false);
      assert.equal(store.exists(`${backend(d)}/hotplug-status`), false);
    });

    it('a refusal: hotplug-error in the backend node (what xenopsd watches), no hotplug node, exit 1', async () => {
      answer = () => Promise.reject(new LimitExceededError('asks for 8 VIFs; the limit is 7 (VM other_config)', { domain: 'web1', vifIndex: 7 }));
      const d = domain('xenopsd');
      const runs = await standIn.plug(d, 0);
      assert.equal(runs.at(-1)?.code, 1);
      assert.equal(store.read(`${backend(d)}/hotplug-error`), 'VM "web1" VIF 7: asks for 8 VIFs; the limit is 7 (VM other_config)');
      assert.equal(store.exists(`${hotplugNode(d)}/hotplug`), false);
    });

    it('move: the new private bridge goes to the daemon as a move', async () => {
      const d = domain('xenopsd');
      await standIn.plug(d, 0);
      store.write(`/xapi/${UUID}/private/vif/0/bridge`, 'xapi3');
      assert.equal((await standIn.run(d, 0, 'move', 'vif', { udev: true })).code, 0);
      assert.deepEqual((requests[1] as { action: string; bridge: unknown }).bridge, { bridge: 'xapi3' });
      assert.equal((requests[1] as { action: string }).action, 'move');
    });
  });

  describe('repeats and a missing daemon', () => {
    for (const toolstack of ['libxl', 'xenopsd'] as const) {
      it(`${toolstack}: called twice for one event, the second call changes nothing`, async () => {
        const d = domain(toolstack);
        await standIn.plug(d, 0);
        const once = store.dump();
        answer = () => Promise.resolve({ outcome: 'unchanged' });
        const again = await standIn.plug(d, 0);
        assert.ok(again.every((run) => run.code === 0));
        assert.deepEqual(store.dump(), once);
        assert.deepEqual(requests[1], requests[0]);
      });
    }

    it('a success after an earlier refusal clears the stale hotplug-error', async () => {
      const d = domain('xenopsd');
      answer = () => Promise.reject(new LimitExceededError('over the limit'));
      await standIn.plug(d, 0);
      answer = () => Promise.resolve({ outcome: 'plugged' });
      await standIn.plug(d, 0);
      assert.equal(store.exists(`${backend(d)}/hotplug-error`), false);
      assert.equal(store.read(`${hotplugNode(d)}/hotplug`), 'online');
    });

    it('no daemon: online is refused (fail closed) within the bound; offline succeeds with a logged line', async () => {
      await server?.close();
      server = null;
      const d = domain('libxl');
      const [online] = await standIn.plug(d, 0);
      assert.equal(online?.code, 1);
      assert.match(store.read(`${backend(d)}/hotplug-error`) ?? '', /^vifd is not running \(vifd is not running or not listening at .*vifd\.sock \(ENOENT, retried for 300 ms\)\); start vifd first$/);
      const [offline] = await standIn.unplug(d, 0);
      assert.equal(offline?.code, 0);
      assert.match(offline.stderr, /^vifd: offline vif\d+\.0 \(domain \d+\): vifd is not running; vifd's GC removes its port when it runs\n$/);
    });

    it('no daemon: xenopsd remove still clears the hotplug node, so xenopsd does not wait 300 s', async () => {
      const d = domain('xenopsd');
      await standIn.plug(d, 0);
      await server?.close();
      server = null;
      const [run] = await standIn.unplug(d, 0);
      assert.equal(run?.code, 0);
      assert.equal(store.exists(`${hotplugNode(d)}/hotplug`), false);
    });
  });

  describe('hostile xenstore values: refused by the hook, naming the key, before the daemon is asked', () => {
    const hostile: readonly [string, string, RegExp][] = [
      ['a ";"', 'xenbr0;reboot', /holds ";"/],
      ['"$(..)"', '$(reboot)', /holds "\$"/],
      ['a newline', 'xenbr0\nevil', /holds "\\n"/],
      ['VLAN 4095', 'xenbr0.4095', /"4095" is outside 1-4094/],
      ['a 300-character name', 'b'.repeat(300), /is 300 bytes; a bridge name has at most 15/],
    ];
    for (const [what, value, reason] of hostile) {
      it(`libxl bridge with ${what}`, async () => {
        const d = domain('libxl', [{ bridge: value }]);
        const [run] = await standIn.plug(d, 0);
        assert.equal(run?.code, 1);
        assert.deepEqual(requests, []);
        const error = store.read(`${backend(d)}/hotplug-error`) ?? '';
        assert.ok(error.startsWith(`VM "web1" VIF 0: backend/vif/${d.domid}/0/bridge: `), error);
        assert.match(error, reason);
        assert.equal(run.stderr.split('\n').length, 2, 'one line on stderr');
      });
    }

    it('xenopsd private keys: a hostile bridge, MTU, and vif-uuid are each refused by path', async () => {
      for (const [key, value] of [['bridge', 'xapi1$(id)'], ['MTU', '1500;x'], ['vif-uuid', 'not-a-uuid']] as const) {
        const d = domain('xenopsd', [{ xapiKeys: { 'vif-uuid': VIF_UUID, 'network-uuid': NET_UUID, [key]: value } }]);
        const runs = await standIn.plug(d, 0);
        assert.equal(runs.at(-1)?.code, 1, key);
        assert.match(store.read(`${backend(d)}/hotplug-error`) ?? '', new RegExp(`/xapi/${UUID}/private/vif/0/${key}: `));
        standIn.destroyDomain(d);
      }
      assert.deepEqual(requests, []);
    });

    it('a domain name with control characters is refused naming /local/domain/<domid>/name', async () => {
      const d = domain('libxl', [{}], 'web\u001b[2J');
      const [run] = await standIn.plug(d, 0);
      assert.equal(run?.code, 1);
      assert.match(store.read(`${backend(d)}/hotplug-error`) ?? '', new RegExp(`/local/domain/${d.domid}/name: `));
      assert.deepEqual(requests, []);
    });
  });
});
