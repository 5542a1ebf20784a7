// integration: node's file system and the host's /sys.
// nodeSysfsIo.readText reads a small file in one read where readFile takes
// several trips: what it returns must stay readFile's answer, for files of
// any size, and a missing path must stay undefined.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeSysfsIo } from '../../../src/host/sriov/sysfs.js';

describe('integration: sriov nodeSysfsIo.readText', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'vifd-sysfs-io-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('returns the whole text of an empty, a short, a one-page and a multi-page file', async () => {
    for (const size of [0, 9, 4095, 4096, 4097, 3 * 4096 + 17]) {
      const text = Array.from({ length: size }, (_, at) => String.fromCharCode(97 + (at % 26))).join('');
      await writeFile(join(dir, `f${size}`), text);
      assert.equal(await nodeSysfsIo.readText(join(dir, `f${size}`)), text, `${size} bytes`);
    }
  });

  it('reads a real sysfs attribute', async () => {
    assert.match(await nodeSysfsIo.readText('/sys/class/net/lo/flags') ?? '', /^0x[0-9a-f]+\n$/);
  });

  it('a missing path, or one under a file, is undefined; other errors are thrown', async () => {
    await writeFile(join(dir, 'file'), 'x');
    assert.equal(await nodeSysfsIo.readText(join(dir, 'absent')), undefined);
    assert.equal(await nodeSysfsIo.readText(join(dir, 'file', 'below')), undefined);
    await assert.rejects(nodeSysfsIo.readText(dir), (error: unknown) => (error as { code?: unknown }).code === 'EISDIR');
  });
});
