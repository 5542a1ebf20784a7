// The restore snapshot store on a real file system (a temp directory).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VfSnapshotStore } from '../../../src/host/sriov/snapshots.js';
import type { VfSnapshotInput } from '../../../src/host/sriov/snapshots.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';

const input = (address: string, mac = '00:00:00:00:00:00'): VfSnapshotInput => ({
  pf: parsePciAddress('0000:01:00.0'), pfName: 'enp1s0', vf: 0, address: parsePciAddress(address),
  owner: { vmUuid: 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b', vifIndex: 0 },
  original: { index: 0, mac, vlan: 0, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false }, driver: 'igbvf',
});

describe('integration: sriov restore snapshot store', () => {
  let dir: string;
  let bootIdPath: string;
  const logs: string[] = [];
  const store = (): VfSnapshotStore => new VfSnapshotStore(join(dir, 'sriov'), { bootIdPath, log: (line) => logs.push(line) });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vifd-snapshots-'));
    bootIdPath = join(dir, 'boot_id');
    await writeFile(bootIdPath, 'boot-a\n');
    logs.length = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes a 0600 file in a 0700 directory, tagged with the boot id, and reads it back', async () => {
    const written = await store().write(input('0000:01:10.0'));
    assert.equal(written.bootId, 'boot-a');
    assert.deepEqual(await store().read(parsePciAddress('0000:01:10.0')), written);
    assert.equal((await stat(join(dir, 'sriov', '0000:01:10.0.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'sriov'))).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(join(dir, 'sriov')), ['0000:01:10.0.json'], 'no temp file left');
  });

  it('an interrupted write (a temp file that never got renamed) leaves the previous snapshot and is cleaned up', async () => {
    await store().write(input('0000:01:10.0', '02:00:00:00:00:01'));
    await writeFile(join(dir, 'sriov', `.tmp-0000:01:10.0.${process.pid}`), '{"version":1,"bootId":"boot-a","trunc');
    const { snapshots, unreadable } = await store().list();
    assert.deepEqual(snapshots.map((snapshot) => snapshot.original.mac), ['02:00:00:00:00:01']);
    assert.deepEqual(unreadable, []);
    assert.deepEqual(await readdir(join(dir, 'sriov')), ['0000:01:10.0.json']);
  });

  it('a snapshot of another boot is discarded, logged and deleted', async () => {
    await store().write(input('0000:01:10.0'));
    await writeFile(bootIdPath, 'boot-b\n');
    assert.equal(await store().read(parsePciAddress('0000:01:10.0')), undefined);
    assert.match(logs[0] ?? '', /discarding the restore snapshot of VF 0000:01:10.0 \(PF enp1s0 VF 0\): taken in boot boot-a, this is boot boot-b/);
    assert.deepEqual(await readdir(join(dir, 'sriov')), []);
  });

  it('a file that is not a snapshot is reported, not applied and not deleted', async () => {
    await store().write(input('0000:01:10.2'));
    await writeFile(join(dir, 'sriov', '0000:01:10.0.json'), '{"version": 7}');
    const { snapshots, unreadable } = await store().list();
    assert.deepEqual(snapshots.map((snapshot) => snapshot.address), ['0000:01:10.2']);
    assert.deepEqual(unreadable, [{ file: '0000:01:10.0.json', reason: '0000:01:10.0.json is not a version 1 VF snapshot' }]);
    await assert.rejects(store().read(parsePciAddress('0000:01:10.0')), /is not a version 1 VF snapshot/);
  });

  it('no directory yet lists nothing; removing twice is fine', async () => {
    assert.deepEqual(await store().list(), { snapshots: [], unreadable: [] });
    await store().remove(parsePciAddress('0000:01:10.0'));
    await store().remove(parsePciAddress('0000:01:10.0'));
  });
});
