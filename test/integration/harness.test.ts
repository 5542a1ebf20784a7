// The harness must never leave anything behind: these tests check that each
// kind of resource is really removed, that cleanup can run twice, that one
// failing undo step does not stop the others, and that the sweep removes what
// a dead run left while sparing a live run's resources.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, sweepDeadRuns } from '../harness/lab.js';
import { createNetns, createTap, deleteLink, deleteNetns, linkExists, netnsExists } from '../harness/net.js';
import { bridgeExists, createBridge, deleteBridge, portsOf } from '../harness/ovs.js';
import { RUN_REGISTRY, runId, runIdOf, takeLeftoversNote, uniqueName } from '../harness/names.js';
import { requirePrerequisites } from '../harness/prereq.js';

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid ?? 0x7ffffff0;
}

function otherRunId(): string {
  for (;;) {
    const id = Math.random().toString(36).slice(2, 6).padEnd(4, '0');
    if (id !== runId) return id;
  }
}

describe('integration: test harness', function () {
  this.timeout(60_000);

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs']);
  });

  it('names are unique, at most 15 bytes, and carry the run id', () => {
    const names = ['bridge', 'tap', 'veth', 'netns', 'domain', 'port'].map((kind) =>
      uniqueName(kind as Parameters<typeof uniqueName>[0]));
    assert.equal(new Set(names).size, names.length);
    for (const name of names) {
      assert.ok(Buffer.byteLength(name) <= 15, name);
      assert.equal(runIdOf(name), runId);
    }
    assert.equal(runIdOf('eth0'), null);
  });

  it('removes bridges, ports, TAPs, veths and namespaces, and cleanup can run twice', async () => {
    const lab = new Lab();
    const bridge = await lab.bridge();
    const tap = await lab.tap();
    const [veth, peer] = await lab.vethPair();
    const netns = await lab.netns();
    await lab.port(bridge, tap, { tag: 100 });
    await lab.port(bridge, veth, { trunks: [100, 200] });
    assert.deepEqual((await portsOf(bridge)).sort(), [tap, veth].sort());
    assert.ok(await linkExists(tap));
    assert.ok(await linkExists(peer));
    assert.ok(netnsExists(netns));

    await lab.cleanup();
    assert.equal(await bridgeExists(bridge), false);
    assert.equal(await linkExists(tap), false);
    assert.equal(await linkExists(veth), false);
    assert.equal(await linkExists(peer), false);
    assert.equal(netnsExists(netns), false);
    await lab.cleanup();
  });

  it('a failing undo step is reported and the other resources are still removed', async () => {
    const lab = new Lab();
    const tap = await lab.tap();
    lab.defer('a step that fails', () => Promise.reject(new Error('boom')));
    const netns = await lab.netns();
    await assert.rejects(lab.cleanup(), /a step that fails: boom/);
    assert.equal(await linkExists(tap), false);
    assert.equal(netnsExists(netns), false);
    assert.equal(takeLeftoversNote(), true, 'a failed cleanup must keep the run registered for the next sweep');
  });

  it('the sweep removes what a dead run left behind, sparing live runs and names not ours', async () => {
    const [dead, live, unknown] = [otherRunId(), otherRunId(), otherRunId()];
    mkdirSync(RUN_REGISTRY, { recursive: true });
    writeFileSync(join(RUN_REGISTRY, dead), `${await deadPid()}\n`);
    writeFileSync(join(RUN_REGISTRY, live), `${process.pid}\n`); // this process: alive
    const deadTap = `vt${dead}t1`;
    const deadBridge = `vt${dead}b1`;
    const deadNetns = `vt${dead}n1`;
    const liveTap = `vt${live}t1`;
    const unknownTap = `vt${unknown}t1`; // looks like ours, but no run registered it
    try {
      await createTap(deadTap);
      await createBridge(deadBridge);
      await createNetns(deadNetns);
      await createTap(liveTap);
      await createTap(unknownTap);

      await sweepDeadRuns();

      assert.equal(await linkExists(deadTap), false, 'dead run TAP survived the sweep');
      assert.equal(await bridgeExists(deadBridge), false, 'dead run bridge survived the sweep');
      assert.equal(netnsExists(deadNetns), false, 'dead run netns survived the sweep');
      assert.equal(existsSync(join(RUN_REGISTRY, dead)), false, 'dead run registry entry survived the sweep');
      assert.ok(await linkExists(liveTap), 'the sweep removed a live run TAP');
      assert.ok(await linkExists(unknownTap), 'the sweep removed a TAP no run of ours registered');
    } finally {
      const cleanup = new Lab();
      cleanup.defer('unknown TAP', () => deleteLink(unknownTap));
      cleanup.defer('live TAP', () => deleteLink(liveTap));
      cleanup.defer('dead TAP', () => deleteLink(deadTap));
      cleanup.defer('dead bridge', () => deleteBridge(deadBridge));
      cleanup.defer('dead netns', () => deleteNetns(deadNetns));
      await cleanup.cleanup();
      rmSync(join(RUN_REGISTRY, live), { force: true });
      rmSync(join(RUN_REGISTRY, dead), { force: true });
    }
  });
});
