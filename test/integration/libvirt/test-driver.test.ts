// The binding against libvirt's test driver (test:///default): every domain
// operation, events, typed errors and handle accounting, with no daemon.
import assert from 'node:assert/strict';
import { LibvirtConnection, openHandles } from '../../../src/libvirt/connection.js';
import { LibvirtError } from '../../../src/libvirt/errors.js';
import { eventLoopUsers } from '../../../src/libvirt/event-loop.js';
import type { DomainEvent } from '../../../src/libvirt/events.js';

const DOMAIN_XML = (name: string): string =>
  `<domain type='test'><name>${name}</name><memory>65536</memory><os><type>hvm</type></os></domain>`;

/** Resolves with the first event matching, or rejects after `ms`. */
function nextEvent(connection: LibvirtConnection, match: (event: DomainEvent) => boolean, ms = 5000): Promise<DomainEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { connection.off('event', listener); reject(new Error('no matching event')); }, ms);
    const listener = (event: DomainEvent): void => {
      if (!match(event)) return;
      clearTimeout(timer);
      connection.off('event', listener);
      resolve(event);
    };
    connection.on('event', listener);
  });
}

const lifecycle = (name: string, event: string, detail: string) => (e: DomainEvent): boolean =>
  e.type === 'lifecycle' && e.domain.name === name && e.event === event && e.detail === detail;

describe('integration: libvirt binding on test:///default', function () {
  this.timeout(20_000);
  let connection: LibvirtConnection;

  beforeEach(async () => { connection = await LibvirtConnection.open({ uri: 'test:///default' }); });
  afterEach(async () => {
    await connection.close();
    assert.equal(openHandles(), 0, 'domain handles leaked');
    assert.equal(eventLoopUsers(), 0, 'event loop still held');
  });

  it('lists domains and reads one by name and by UUID', async () => {
    const [test] = await connection.listDomains();
    assert.ok(test !== undefined);
    assert.equal(test.name, 'test');
    assert.equal(test.state, 'running');
    assert.equal(test.persistent, true);
    assert.match(test.uuid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(await connection.getDomain({ uuid: test.uuid }), test);
    assert.match(await connection.domainXml({ name: 'test' }), /^<domain type='test' id='\d+'>/);
    assert.doesNotMatch(await connection.domainXml({ name: 'test' }, { inactive: true }), /id='/);
  });

  it('reports failures as LibvirtError with libvirt\'s code, naming the VM', async () => {
    await assert.rejects(connection.getDomain({ name: 'no-such-vm' }), (error: unknown) => {
      assert.ok(error instanceof LibvirtError);
      assert.equal(error.libvirtCode, 42);
      assert.ok(error.isNoDomain);
      assert.equal(error.message, 'VM "no-such-vm": lookup of domain "no-such-vm" failed: Domain not found');
      return true;
    });
    await assert.rejects(connection.defineDomain('<domain>'), (error: unknown) =>
      error instanceof LibvirtError && /^virDomainDefineXML failed: .*Premature end of data in tag domain/.test(error.message) && !error.message.includes('\n'));
  });

  it('defines, starts, destroys and undefines, with an event for each', async () => {
    const name = 'vifd-test-dom';
    const defined = nextEvent(connection, lifecycle(name, 'defined', 'added'));
    const info = await connection.defineDomain(DOMAIN_XML(name));
    assert.deepEqual([info.name, info.state, info.persistent, info.id], [name, 'shutoff', true, -1]);
    await defined;
    const started = nextEvent(connection, lifecycle(name, 'started', 'booted'));
    await connection.startDomain({ name });
    assert.ok((await started).domain.id > 0);
    const stopped = nextEvent(connection, lifecycle(name, 'stopped', 'destroyed'));
    await connection.destroyDomain({ name });
    await stopped;
    const undefinedEvent = nextEvent(connection, lifecycle(name, 'undefined', 'removed'));
    await connection.undefineDomain({ name });
    await undefinedEvent;
    await assert.rejects(connection.getDomain({ name }), LibvirtError);
  });

  it('round-trips metadata in the namespace the caller names, and reads its absence as null', async () => {
    const probe = { uri: 'https://example.test/xmlns/probe/1', prefix: 'probe' };
    const other = { uri: 'https://example.test/xmlns/other/1', prefix: 'other' };
    assert.equal(await connection.getMetadata({ name: 'test' }, probe, { live: true }), null);
    await connection.setMetadata({ name: 'test' }, probe, '<probe><limit>3</limit></probe>', { live: true });
    assert.equal((await connection.getMetadata({ name: 'test' }, probe, { live: true }))?.replace(/\s+/g, ''), '<probe><limit>3</limit></probe>');
    assert.match(await connection.domainXml({ name: 'test' }), /<probe:probe xmlns:probe="https:\/\/example\.test\/xmlns\/probe\/1">/);
    assert.equal(await connection.getMetadata({ name: 'test' }, other, { live: true }), null);
    await connection.setMetadata({ name: 'test' }, other, '<other/>', { live: true });
    await connection.setMetadata({ name: 'test' }, probe, null, { live: true });
    assert.equal(await connection.getMetadata({ name: 'test' }, probe, { live: true }), null);
    assert.equal((await connection.getMetadata({ name: 'test' }, other, { live: true }))?.replace(/\s+/g, ''), '<other/>');
    await connection.setMetadata({ name: 'test' }, other, null, { live: true });
  });

  it('serves concurrent callers and frees every handle', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => connection.getDomain({ name: 'test' })));
    assert.equal(results.length, 50);
    assert.equal(openHandles(), 0);
  });

  it('refuses to open a URI it cannot reach, with libvirt\'s reason', async () => {
    await assert.rejects(LibvirtConnection.open({ uri: 'qemu+unix:///system?socket=/nonexistent/sock' }), (error: unknown) =>
      error instanceof LibvirtError && /^cannot connect to qemu\+unix:\/\/\/system\?socket=\/nonexistent\/sock/.test(error.message));
  });
});
