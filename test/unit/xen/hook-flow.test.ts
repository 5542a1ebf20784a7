import assert from 'node:assert/strict';
import { ControlTimeoutError, DaemonUnavailableError } from '../../../src/api/errors.js';
import { LimitExceededError } from '../../../src/model/errors.js';
import { runXenHotplug } from '../../../src/cli/xen-hotplug-flow.js';
import type { XenHotplugRequest } from '../../../src/sources/xen-hotplug/protocol.js';
import { xenstoreReason } from '../../../src/sources/xen-hotplug/result-keys.js';
import { MemoryXenStore } from './memory-store.js';

const UUID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const BACKEND = '/local/domain/0/backend/vif/7/0';
const HOTPLUG = `/xapi/${UUID}/hotplug/7/vif/0`;
const domainKeys = { '/local/domain/7/vm': `/vm/${UUID}`, '/local/domain/7/name': 'web1', [`/vm/${UUID}/uuid`]: UUID };
const libxlKeys = { ...domainKeys, [`${BACKEND}/bridge`]: 'xenbr0.100', [`${BACKEND}/mac`]: '00:16:3e:00:00:01' };
const xenopsdKeys = {
  ...domainKeys, [`${BACKEND}/mac`]: '00:16:3e:00:00:01', [`/xapi/${UUID}/private/vif/0/bridge`]: 'xenbr0',
  [`/xapi/${UUID}/private/vif/0/vif-uuid`]: '6b1f0f4e-2f0a-4d7e-9a51-0c1d2e3f4a5b', [`/xapi/${UUID}/private/vif/0/network-uuid`]: '0e1d2c3b-4a59-4876-8a9b-aabbccddeeff',
};
const libxlEnv = { XENBUS_TYPE: 'vif', XENBUS_PATH: 'backend/vif/7/0', XENBUS_BASE_PATH: 'backend', netdev: '', vif: 'vif7.0' };
const xenopsdEnv = { XENBUS_TYPE: 'vif', XENBUS_PATH: 'backend/vif/7/0', XENBUS_BASE_PATH: 'backend', XENBUS_PREFIX: '', INTERFACE: 'vif7.0' };

async function hook(store: MemoryXenStore, argv: string[], env: Record<string, string>, answer: (request: XenHotplugRequest) => Promise<unknown>) {
  const requests: XenHotplugRequest[] = [];
  const lines: string[] = [];
  const code = await runXenHotplug(argv, env, { store, ask: (request) => { requests.push(request); return answer(request); }, log: (line) => lines.push(line) });
  return { code, requests, lines };
}

const plugged = (): Promise<unknown> => Promise.resolve({ outcome: 'plugged', bridge: 'xenbr0', vlan: 100 });

describe('sources/xen-hotplug/hook-flow: one hotplug call, from argv to result keys', () => {
  it('libxl online: one request, hotplug-status=connected, one log line; few store calls', async () => {
    const store = new MemoryXenStore(libxlKeys);
    const { code, requests, lines } = await hook(store, ['online', 'type_if=vif'], libxlEnv, plugged);
    assert.equal(code, 0);
    assert.equal(requests.length, 1);
    assert.equal(store.values.get(`${BACKEND}/hotplug-status`), 'connected');
    assert.deepEqual(lines, ['vifd: online vif7.0 (domain 7): plugged on xenbr0 VLAN 100']);
    assert.ok(store.calls <= 7, `${store.calls} xenstore program runs`);
  });

  it('xenopsd online: the hotplug node and hotplug-status', async () => {
    const store = new MemoryXenStore(xenopsdKeys);
    assert.equal((await hook(store, ['online'], xenopsdEnv, plugged)).code, 0);
    assert.equal(store.values.get(`${HOTPLUG}/hotplug`), 'online');
    assert.equal(store.values.get(`${HOTPLUG}/vif`), 'vif7.0');
    assert.equal(store.values.get(`${BACKEND}/hotplug-status`), 'connected');
  });

  it('a refusal from the daemon: hotplug-error (+ hotplug-status=error on libxl), exit 1', async () => {
    const store = new MemoryXenStore(libxlKeys);
    const { code, lines } = await hook(store, ['online', 'type_if=vif'], libxlEnv, () => Promise.reject(new LimitExceededError('over the limit', { domain: 'web1' })));
    assert.equal(code, 1);
    assert.equal(store.values.get(`${BACKEND}/hotplug-error`), 'VM "web1": over the limit');
    assert.equal(store.values.get(`${BACKEND}/hotplug-status`), 'error');
    assert.deepEqual(lines, ['vifd: refused online vif7.0 (domain 7): VM "web1": over the limit']);
  });

  it('a daemon answer that is not a result is a refusal, not a success', async () => {
    const store = new MemoryXenStore(xenopsdKeys);
    const { code } = await hook(store, ['online'], xenopsdEnv, () => Promise.resolve({ ok: true }));
    assert.equal(code, 1);
    assert.match(store.values.get(`${BACKEND}/hotplug-error`) ?? '', /not a xen-hotplug result/);
    assert.equal(store.values.has(`${HOTPLUG}/hotplug`), false);
  });

  it('a plug the daemon does not answer in time is refused', async () => {
    const store = new MemoryXenStore(libxlKeys);
    const { code } = await hook(store, ['online', 'type_if=vif'], libxlEnv, () => Promise.reject(new ControlTimeoutError('vifd did not answer within 25000 ms')));
    assert.equal(code, 1);
    assert.match(store.values.get(`${BACKEND}/hotplug-error`) ?? '', /did not answer within 25000 ms/);
  });

  it('an unplug the daemon cannot do still lets the toolstack go on, and clears what xenopsd waits for', async () => {
    const store = new MemoryXenStore({ ...xenopsdKeys, [`${HOTPLUG}/hotplug`]: 'online', [`${BACKEND}/hotplug-status`]: 'connected' });
    const { code, lines } = await hook(store, ['remove'], xenopsdEnv, () => Promise.reject(new DaemonUnavailableError('no socket')));
    assert.equal(code, 0);
    assert.equal(store.values.has(`${HOTPLUG}/hotplug`), false);
    assert.equal(store.values.has(`${BACKEND}/hotplug-status`), false);
    assert.deepEqual(lines, ["vifd: remove vif7.0 (domain 7): vifd is not running; vifd's GC removes its port when it runs"]);
  });

  it('an unplug of a domain xenstore has already forgotten: the request has no vm, exit 0', async () => {
    const store = new MemoryXenStore({});
    const { code, requests } = await hook(store, ['offline', 'type_if=vif'], libxlEnv, () => Promise.resolve({ outcome: 'unplugged' }));
    assert.equal(code, 0);
    assert.deepEqual(requests, [{ version: 1, toolstack: 'libxl', command: 'offline', action: 'unplug', device: { name: 'vif7.0', type: 'vif', domid: 7, devid: 0 } }]);
  });

  it('a plug of a domain with no vm key is refused naming the key, before asking', async () => {
    const store = new MemoryXenStore({});
    const { code, requests } = await hook(store, ['online', 'type_if=vif'], libxlEnv, plugged);
    assert.equal(code, 1);
    assert.deepEqual(requests, []);
    assert.equal(store.values.get(`${BACKEND}/hotplug-error`), '/local/domain/7/vm: is missing from xenstore');
  });

  it('an invocation it cannot read: refused, recorded in the backend node when XENBUS_PATH is usable', async () => {
    const store = new MemoryXenStore(libxlKeys);
    const { code, requests } = await hook(store, ['online', 'type_if=vif'], { ...libxlEnv, vif: 'vif7.0;reboot' }, plugged);
    assert.equal(code, 1);
    assert.deepEqual(requests, []);
    assert.match(store.values.get(`${BACKEND}/hotplug-error`) ?? '', /^vif: "vif7.0;reboot" is not a device name/);
  });

  it('a hostile XENBUS_PATH: nothing is written anywhere, exit 1', async () => {
    const store = new MemoryXenStore(libxlKeys);
    const before = store.snapshot();
    const { code, lines } = await hook(store, ['online', 'type_if=vif'], { ...libxlEnv, XENBUS_PATH: '/etc/passwd' }, plugged);
    assert.equal(code, 1);
    assert.deepEqual(store.snapshot(), before);
    assert.match(lines[0] ?? '', /^vifd: refused: XENBUS_PATH: "\/etc\/passwd" is not a vif backend path/);
  });

  it('commands with nothing to do ask nothing and write nothing', async () => {
    const store = new MemoryXenStore(xenopsdKeys);
    const before = store.snapshot();
    const { code, requests } = await hook(store, ['add'], xenopsdEnv, plugged);
    assert.deepEqual([code, requests, store.snapshot()], [0, [], before]);
  });

  it('xenstoreReason: one line, bounded', () => {
    assert.equal(xenstoreReason('a\nb\tc'), 'a b c');
    assert.equal(xenstoreReason('x'.repeat(600)).length, 512);
  });
});
