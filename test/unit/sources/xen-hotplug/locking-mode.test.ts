// XAPI's locking_mode (xenopsd's private `locking-mode`) through the daemon
// side and the real engine over in-memory host effectors: `unlocked` plugs and
// is recorded on the port (and read back after a restart), `disabled` leaves
// the device without a port (removing one it had) and succeeds as "disabled",
// `locked` plugs with its OpenFlow rules (removed when unlocked or unplugged),
// hostile allowed addresses are refused naming the field;
// the hook writes the success keys for "disabled" as xenopsd waits for them.
import assert from 'node:assert/strict';
import { Engine } from '../../../../src/engine/engine.js';
import { recoverNetbackVifs } from '../../../../src/kinds/netback/recover.js';
import { portCookie } from '../../../../src/kinds/netback/lock-flows.js';
import { IPV4_ALLOWED_ID, IPV6_ALLOWED_ID, LOCKING_MODE_ID } from '../../../../src/kinds/netback/specs.js';
import { InvalidInputError } from '../../../../src/model/errors.js';
import { XEN_MAC_PREFIX, parseMacPrefix } from '../../../../src/model/mac.js';
import { runXenHotplug } from '../../../../src/cli/xen-hotplug-flow.js';
import { CompositeSource } from '../../../../src/sources/composite.js';
import { XenHotplug } from '../../../../src/sources/xen-hotplug/daemon-side.js';
import { parseXenHotplugRequest, parseXenHotplugResult } from '../../../../src/sources/xen-hotplug/protocol.js';
import type { XenHotplugRequest } from '../../../../src/sources/xen-hotplug/protocol.js';
import { XenVms } from '../../../../src/sources/xen-hotplug/vms.js';
import { FakeHost, quietLog } from '../../engine/fakes.js';
import { MemoryXenStore } from '../../xen/memory-store.js';

const VM = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const VIF_UUID = '6b1f0f4e-2f0a-4d7e-9a51-0c1d2e3f4a5b';
const NET_UUID = '0e1d2c3b-4a59-4876-8a9b-aabbccddeeff';

function plug(devid: number, lockingMode?: string): XenHotplugRequest {
  return parseXenHotplugRequest({
    version: 1, toolstack: 'xenopsd', command: 'online', action: 'plug', device: { name: `vif7.${devid}`, type: 'vif', domid: 7, devid },
    vm: { uuid: VM, name: 'guest' }, mac: `00:16:3e:00:07:0${devid}`, bridge: { bridge: 'xenbr0' },
    xapi: { vifUuid: VIF_UUID, networkUuid: NET_UUID, ...(lockingMode === undefined ? {} : { lockingMode }), ipv4Allowed: ['10.0.0.5'] },
  });
}

describe('sources/xen-hotplug: XAPI locking_mode', () => {
  let host: FakeHost;
  let xen: XenHotplug;

  function start(): void {
    const vms = new XenVms({ exists: (name) => host.netDevices.has(name), recover: () => recoverNetbackVifs([...host.portsByName.values()]) });
    const engine = new Engine({ settings: { macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 }, networks: new Map() },
      source: new CompositeSource(vms), host, log: quietLog });
    xen = new XenHotplug(engine, vms, () => null, quietLog);
  }

  beforeEach(() => {
    host = new FakeHost();
    for (let devid = 0; devid < 3; devid++) host.netDevices.add(`vif7.${devid}`);
    start();
  });

  it('unlocked: plugged, the mode recorded in the port\'s external_ids and recovered after a restart', async () => {
    assert.deepEqual(await xen.handle(plug(0, 'unlocked')), { outcome: 'plugged', bridge: 'xenbr0' });
    assert.equal(host.portsByName.get('vif7.0')?.externalIds[LOCKING_MODE_ID], 'unlocked');
    assert.equal(recoverNetbackVifs([...host.portsByName.values()])[0]?.vif.lockingMode, 'unlocked');
    start();
    assert.deepEqual(await xen.handle(plug(0, 'unlocked')), { outcome: 'unchanged', bridge: 'xenbr0' });
    await xen.handle(plug(1));
    assert.equal(host.portsByName.get('vif7.1')?.externalIds[LOCKING_MODE_ID], undefined, 'no mode given, none recorded');
  });

  it('disabled: no port at all, an earlier port removed; called again, still "disabled"; other devices untouched', async () => {
    await xen.handle(plug(0, 'unlocked'));
    await xen.handle(plug(1, 'unlocked'));
    assert.deepEqual(await xen.handle(plug(0, 'disabled')), { outcome: 'disabled' });
    assert.deepEqual([...host.portsByName.keys()], ['vif7.1']);
    assert.deepEqual(await xen.handle(plug(0, 'disabled')), { outcome: 'disabled' });
    assert.deepEqual(await xen.handle(plug(2, 'disabled')), { outcome: 'disabled' });
    assert.deepEqual([...host.portsByName.keys()], ['vif7.1']);
  });

  it('locked: plugged with its rules (only its MAC and allowed addresses), recorded and recovered; unlocked drops the rules, a removal too', async () => {
    await xen.handle(plug(1, 'unlocked'));
    assert.deepEqual(await xen.handle(plug(0, 'locked')), { outcome: 'plugged', bridge: 'xenbr0' });
    const ids = host.portsByName.get('vif7.0')?.externalIds ?? {};
    assert.deepEqual([ids[LOCKING_MODE_ID], ids[IPV4_ALLOWED_ID], ids[IPV6_ALLOWED_ID]], ['locked', '10.0.0.5', '']);
    const cookie = portCookie('vif7.0');
    const rules = host.flowsByBridge.get('xenbr0') ?? [];
    assert.ok(rules.length > 0 && rules.every((rule) => rule.startsWith(`cookie=${cookie},`)));
    assert.ok(rules.includes(`cookie=${cookie},priority=110,ip,in_port=1,dl_src=00:16:3e:00:07:00,nw_src=10.0.0.5,actions=NORMAL`));
    const recovered = recoverNetbackVifs([...host.portsByName.values()]).find((each) => each.vif.index === 0)?.vif;
    assert.deepEqual(recovered?.kind === 'netback' ? [recovered.lockingMode, recovered.ipv4Allowed, recovered.ipv6Allowed] : null, ['locked', ['10.0.0.5'], []]);
    start();
    assert.deepEqual(await xen.handle(plug(0, 'locked')), { outcome: 'unchanged', bridge: 'xenbr0' }, 'recovered after a restart: nothing to do');
    assert.deepEqual(host.flowsByBridge.get('xenbr0'), rules, 'a repeat changes no rule');
    assert.deepEqual(await xen.handle(plug(0, 'unlocked')), { outcome: 'plugged', bridge: 'xenbr0' });
    assert.deepEqual(host.flowsByBridge.get('xenbr0'), [], 'unlocked: its rules removed');
    await xen.handle(plug(0, 'locked'));
    assert.deepEqual(await xen.handle(plug(0, 'disabled')), { outcome: 'disabled' });
    assert.deepEqual(host.flowsByBridge.get('xenbr0'), [], 'port removed: its rules too');
    assert.deepEqual([...host.portsByName.keys()], ['vif7.1']);
  });

  it('locked on a fake bridge: the rules go on its parent, where the port really sits', async () => {
    xen = new XenHotplug(new Engine({ settings: { macPrefix: parseMacPrefix(XEN_MAC_PREFIX), vifLimit: { default: 7, max: 16 }, networks: new Map() },
      source: new CompositeSource(new XenVms({ exists: (name) => host.netDevices.has(name), recover: () => [] })), host, log: quietLog }),
    new XenVms({ exists: (name) => host.netDevices.has(name), recover: () => [] }), (name) => (name === 'xapi3' ? { parent: 'xenbr0', tag: 5 } : null), quietLog);
    const request = parseXenHotplugRequest({ ...plug(0, 'locked'), bridge: { bridge: 'xapi3' } });
    assert.deepEqual(await xen.handle(request), { outcome: 'plugged', bridge: 'xenbr0', vlan: 5 });
    assert.ok((host.flowsByBridge.get('xenbr0') ?? []).length > 0);
    assert.equal(host.flowsByBridge.has('xapi3'), false);
  });

  for (const [key, value] of [['ipv4Allowed', ['10.0.0.5/24']], ['ipv4Allowed', ['10.0.0.5,actions=NORMAL']], ['ipv6Allowed', ['fe80::1%eth0']], ['ipv6Allowed', ['10.0.0.5']], ['ipv4Allowed', [' 10.0.0.5']]] as const) {
    it(`refuses ${key} ${JSON.stringify(value)} naming the field`, () => {
      assert.throws(() => parseXenHotplugRequest({ ...plug(0, 'locked'), xapi: { vifUuid: VIF_UUID, networkUuid: NET_UUID, lockingMode: 'locked', [key]: value } }), (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.equal(error.context.field, `xapi.${key}`);
        return true;
      });
    });
  }

  it('the hook writes the success keys xenopsd waits for when the daemon answers "disabled"', async () => {
    const backend = '/local/domain/0/backend/vif/7/0';
    const store = new MemoryXenStore({
      '/local/domain/7/vm': `/vm/${VM}`, '/local/domain/7/name': 'guest', [`/vm/${VM}/uuid`]: VM, [`${backend}/mac`]: '00:16:3e:00:07:00',
      [`/xapi/${VM}/private/vif/0/bridge`]: 'xenbr0', [`/xapi/${VM}/private/vif/0/vif-uuid`]: VIF_UUID,
      [`/xapi/${VM}/private/vif/0/network-uuid`]: NET_UUID, [`/xapi/${VM}/private/vif/0/locking-mode`]: 'disabled',
    });
    const lines: string[] = [];
    const asked: XenHotplugRequest[] = [];
    const env = { XENBUS_TYPE: 'vif', XENBUS_PATH: 'backend/vif/7/0', XENBUS_BASE_PATH: 'backend', XENBUS_PREFIX: '', INTERFACE: 'vif7.0' };
    const code = await runXenHotplug(['online'], env, { store, ask: (request) => { asked.push(request); return Promise.resolve({ outcome: 'disabled' }); }, log: (line) => lines.push(line) });
    assert.equal(code, 0);
    assert.equal(asked[0]?.action === 'plug' ? asked[0].xapi?.lockingMode : null, 'disabled');
    assert.equal(store.values.get(`/xapi/${VM}/hotplug/7/vif/0/hotplug`), 'online');
    assert.equal(store.values.get(`${backend}/hotplug-status`), 'connected');
    assert.deepEqual(lines, ['vifd: online vif7.0 (domain 7): disabled']);
    assert.deepEqual(parseXenHotplugResult({ outcome: 'disabled' }), { outcome: 'disabled' });
  });
});
