// The control protocol's shapes and params parsers (src/api/protocol.ts): what
// the daemon accepts and refuses, and, checked by the compiler, that the
// daemon's own types answer exactly what vifctl reads.
import assert from 'node:assert/strict';
import { CONTROL_METHODS, PARAMS, attachParams, detachParams } from '../../../src/api/protocol.js';
import type { InfoResult, VifStatusRow } from '../../../src/api/protocol.js';
import type { InfoResult as DaemonInfo } from '../../../src/daemon/info.js';
import type { VifStatus } from '../../../src/daemon/status-view.js';
import { InvalidInputError } from '../../../src/model/errors.js';

// A type that is not `true` does not compile: each line below is a test the build runs.
// The daemon's own row and info types are the protocol's (what the other methods answer
// is checked where the daemon registers them: controlHandlers is typed MethodHandlers).
type Assert<T extends true> = T;
type Fits<A, B> = [A] extends [B] ? true : false;
type Same<A, B> = Fits<A, B> extends true ? Fits<B, A> : false;
export type WireShapes = [
  Assert<Same<VifStatus, VifStatusRow>>,
  Assert<Same<DaemonInfo, InfoResult>>,
];

function refuses(parse: () => unknown, field: string, message: string): void {
  assert.throws(parse, (error: unknown) => {
    assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
    assert.equal(error.context.field, field);
    assert.equal(error.message, message);
    return true;
  });
}

describe('api/protocol: the control methods and their params', () => {
  it('declares every method vifd serves', () => {
    assert.deepEqual([...CONTROL_METHODS].sort(), ['attach', 'choose-vfs', 'detach', 'gc', 'info', 'ping', 'prepare', 'reconcile', 'release', 'status', 'xen-hotplug']);
  });

  it('reads choose-vfs\'s VM, its SR-IOV VIFs and the VFs other definitions record; refuses other shapes naming the field', () => {
    const vifs = [{ index: 0, network: 'fast' }, { index: 2, network: 'fast', vf: '0000:01:10.2', previous: '0000:01:10.4' }];
    assert.deepEqual(PARAMS['choose-vfs']({ uuid: 'u', vifs }), { uuid: 'u', vifs });
    assert.deepEqual(PARAMS['choose-vfs']({ uuid: 'u', vifs: [], recorded: { '0000:01:10.0': 'VM "db"' } }), { uuid: 'u', vifs: [], recorded: { '0000:01:10.0': 'VM "db"' } });
    refuses(() => PARAMS['choose-vfs']({ vifs: [] }), 'uuid', 'uuid: expected the VM UUID');
    refuses(() => PARAMS['choose-vfs']({ uuid: 'u', vifs: [{ index: 'x', network: 'fast' }] }), 'vifs', 'vifs: expected vifs as a list of { index, network, vf?, previous? }');
    refuses(() => PARAMS['choose-vfs']({ uuid: 'u', vifs: [], recorded: { a: 1 } }), 'recorded', 'recorded: expected recorded as an object of VF address to text');
  });

  it('takes the domain XML for prepare and release, and refuses anything else naming xml', () => {
    assert.deepEqual(PARAMS.prepare({ xml: '<domain/>' }), { xml: '<domain/>' });
    assert.deepEqual(PARAMS.release({ xml: '' }), { xml: '' });
    for (const params of [undefined, null, {}, { xml: 5 }, ['<domain/>']]) {
      refuses(() => PARAMS.prepare(params), 'xml', 'xml: expected the domain XML as a string');
    }
  });

  it('ignores params of the methods that take none, as the daemon always has', () => {
    for (const method of ['ping', 'status', 'reconcile', 'info'] as const) {
      assert.deepEqual(PARAMS[method](undefined), {});
      assert.deepEqual(PARAMS[method]({ anything: 1 }), {});
    }
  });

  it('reads gc\'s dryRun as an optional boolean', () => {
    assert.deepEqual(PARAMS.gc({}), {});
    assert.deepEqual(PARAMS.gc(undefined), {});
    assert.deepEqual(PARAMS.gc({ dryRun: true }), { dryRun: true });
    refuses(() => PARAMS.gc({ dryRun: 'yes' }), 'dryRun', 'dryRun: expected dryRun as a boolean');
  });

  it('reads attach\'s domain, network and optional mac and vlan, leaving absent ones out', () => {
    assert.deepEqual(PARAMS.attach({ domain: 'web', network: 'v100' }), { domain: 'web', network: 'v100' });
    assert.deepEqual(PARAMS.attach({ domain: 'web', network: 'v100', mac: '52:54:00:00:00:01', vlan: '7', extra: 1 }),
      { domain: 'web', network: 'v100', mac: '52:54:00:00:00:01', vlan: '7' });
    assert.deepEqual(attachParams({ domain: 'web', network: 'v100', vlan: '7' }), { domain: 'web', request: { network: 'v100', vlan: '7' } });
  });

  it('refuses attach params naming the field, mac and vlan checked first', () => {
    refuses(() => PARAMS.attach({ network: 'v100' }), 'domain', 'domain: expected the domain name or UUID');
    refuses(() => PARAMS.attach({ domain: 'web' }), 'network', 'network: expected the network name');
    refuses(() => PARAMS.attach({ domain: 'web', network: 'v100', vlan: 7 }), 'vlan', 'vlan: expected vlan as a string');
    refuses(() => PARAMS.attach({ mac: 1 }), 'mac', 'mac: expected mac as a string');
  });

  it('reads detach\'s VIF by index or by MAC, exactly one of them', () => {
    assert.deepEqual(PARAMS.detach({ domain: 'web', index: 2 }), { domain: 'web', index: 2 });
    assert.deepEqual(PARAMS.detach({ domain: 'web', mac: '52:54:00:00:00:01' }), { domain: 'web', mac: '52:54:00:00:00:01' });
    assert.deepEqual(detachParams({ domain: 'web', index: 0 }), { domain: 'web', which: { index: 0 } });
    refuses(() => PARAMS.detach({ domain: 'web' }), 'index', 'index: give exactly one of index and mac');
    refuses(() => PARAMS.detach({ domain: 'web', index: 1, mac: 'x' }), 'index', 'index: give exactly one of index and mac');
    refuses(() => PARAMS.detach({ domain: 'web', index: 1.5 }), 'index', 'index: expected index as an integer');
    refuses(() => PARAMS.detach({ index: 1 }), 'domain', 'domain: expected the domain name or UUID');
  });
});
