// The pure parts of the Xen e2e harness: the tagged ARP frames the trunk case
// sends and reads (test/harness/xen/arp-frames.ts), and which vif script the
// suite runs (test/harness/xen/script.ts).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTALLED_XEN_SCRIPT, requireXenScript, resolveXenScript } from '../../harness/xen/script.js';
import { arpRequestFrame, parseArpReply } from '../../harness/xen/arp-frames.js';

/** The reply a host would send to `request`: opcode 2, sender and target swapped. */
function replyTo(request: Buffer, senderMac: string, senderIp: string): Buffer {
  const reply = Buffer.from(request);
  const arp = request.readUInt16BE(12) === 0x8100 ? 18 : 14;
  reply.writeUInt16BE(2, arp + 6);
  Buffer.from(senderMac.split(':').map((part) => Number.parseInt(part, 16))).copy(reply, arp + 8);
  Buffer.from(senderIp.split('.').map(Number)).copy(reply, arp + 14);
  return reply;
}

describe('unit: the Xen e2e harness', () => {
  describe('tagged ARP frames', () => {
    const spec = { senderMac: '00:16:3e:5a:00:03', senderIp: '192.0.2.50', targetIp: '192.0.2.1' };

    it('an 802.1Q-tagged request: broadcast, TPID 0x8100, the VLAN in the TCI, then ARP asking for the target', () => {
      const frame = arpRequestFrame({ ...spec, vlan: 100 });
      assert.equal(frame.length, 14 + 4 + 28);
      assert.equal(frame.subarray(0, 6).toString('hex'), 'ffffffffffff');
      assert.equal(frame.subarray(6, 12).toString('hex'), '00163e5a0003');
      assert.deepEqual([frame.readUInt16BE(12), frame.readUInt16BE(14), frame.readUInt16BE(16)], [0x8100, 100, 0x0806]);
      assert.equal(frame.readUInt16BE(18 + 6), 1, 'a request');
      assert.deepEqual([...frame.subarray(18 + 24, 18 + 28)], [192, 0, 2, 1]);
    });

    it('an untagged request has no 802.1Q header; VLAN 4094 fits the 12-bit VID', () => {
      assert.equal(arpRequestFrame({ ...spec, vlan: null }).readUInt16BE(12), 0x0806);
      assert.equal(arpRequestFrame({ ...spec, vlan: 4094 }).readUInt16BE(14), 4094);
    });

    it('reads a reply with its VLAN (null untagged), and nothing from a request or another protocol', () => {
      assert.deepEqual(parseArpReply(replyTo(arpRequestFrame({ ...spec, vlan: 200 }), '02:00:00:00:00:02', '192.0.2.2')),
        { vlan: 200, senderMac: '02:00:00:00:00:02', senderIp: '192.0.2.2' });
      assert.equal(parseArpReply(replyTo(arpRequestFrame({ ...spec, vlan: null }), '02:00:00:00:00:01', '192.0.2.1'))?.vlan, null);
      assert.equal(parseArpReply(arpRequestFrame({ ...spec, vlan: 100 })), null);
      const ipv4 = Buffer.alloc(60);
      ipv4.writeUInt16BE(0x0800, 12);
      assert.equal(parseArpReply(ipv4), null);
      assert.equal(parseArpReply(Buffer.alloc(10)), null);
    });
  });

  describe('which vif script the suite runs', () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'vifd-xen-script-choice-')); });
    afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

    it('VIFD_XEN_SCRIPT names an executable copy: that one', () => {
      const script = join(dir, 'vif-vifd');
      writeFileSync(script, '#!/bin/sh\n', { mode: 0o755 });
      assert.deepEqual(resolveXenScript({ VIFD_XEN_SCRIPT: script }), { path: script, problem: null });
    });

    it('VIFD_XEN_SCRIPT naming a missing or non-executable file is a problem naming it, not a fallback', () => {
      const script = join(dir, 'vif-vifd');
      assert.match(resolveXenScript({ VIFD_XEN_SCRIPT: script }).problem ?? '', /VIFD_XEN_SCRIPT=.*vif-vifd is not an executable file/);
      writeFileSync(script, '#!/bin/sh\n');
      chmodSync(script, 0o644);
      assert.equal(resolveXenScript({ VIFD_XEN_SCRIPT: script }).path, null);
    });

    it('no script: with CI=true the suite fails (the reason thrown), outside CI it is skipped', () => {
      const saved = { CI: process.env.CI, VIFD_XEN_SCRIPT: process.env.VIFD_XEN_SCRIPT };
      const skipped: string[] = [];
      const context = { skip: () => { skipped.push('skip'); throw new Error('skipped'); } } as unknown as Mocha.Context;
      try {
        process.env.VIFD_XEN_SCRIPT = join(dir, 'absent');
        process.env.CI = 'true';
        assert.throws(() => requireXenScript(context), /^Error: missing prerequisites: VIFD_XEN_SCRIPT=.*absent is not an executable file$/);
        assert.deepEqual(skipped, []);
        process.env.CI = 'false';
        assert.throws(() => requireXenScript(context), /^Error: skipped$/);
        assert.deepEqual(skipped, ['skip']);
      } finally {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) Reflect.deleteProperty(process.env, name);
          else process.env[name] = value;
        }
      }
    });

    it('without the variable: the installed script, or a problem that says to install it', () => {
      const resolved = resolveXenScript({});
      if (resolved.path !== null) assert.equal(resolved.path, INSTALLED_XEN_SCRIPT);
      else assert.match(resolved.problem, /\/etc\/xen\/scripts\/vif-vifd is not installed: make install/);
    });
  });
});
