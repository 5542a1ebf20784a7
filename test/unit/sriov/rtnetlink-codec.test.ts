// Byte vectors written by hand from include/uapi/linux/{netlink,rtnetlink,if_link}.h
// (not produced by the codec under test).
import assert from 'node:assert/strict';
import {
  NetlinkDecodeError, decodeMessages, encodeGetLink, encodeSetVf, encodeSetVfAttributes,
} from '../../../src/host/sriov/rtnetlink-codec.js';

const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const le32 = (value: number): string => { const b = Buffer.alloc(4); b.writeUInt32LE(value >>> 0); return b.toString('hex'); };
const le16 = (value: number): string => { const b = Buffer.alloc(2); b.writeUInt16LE(value); return b.toString('hex'); };
/** A hand-built rtattr: length, type, payload, padding. */
function rta(type: number, payloadHex: string): string {
  const payload = payloadHex.replace(/\s+/g, '');
  const length = 4 + payload.length / 2;
  return le16(length) + le16(type) + payload + '00'.repeat((4 - (length % 4)) % 4);
}
function nlmsg(type: number, flags: number, seq: number, payloadHex: string): string {
  const payload = payloadHex.replace(/\s+/g, '');
  return le32(16 + payload.length / 2) + le16(type) + le16(flags) + le32(seq) + le32(0) + payload;
}
const IFINFO = (index: number): string => `0000 0000 ${le32(index)} 00000000 00000000`;

describe('host/sriov/rtnetlink-codec: encoding', () => {
  it('RTM_GETLINK by name with RTEXT_FILTER_VF | SKIP_STATS', () => {
    assert.equal(encodeGetLink(1, { ifname: 'lo' }, { vfs: true }).toString('hex'), bytes(`
      30000000 1200 0100 01000000 00000000
      0000 0000 00000000 00000000 00000000
      0700 0300 6c6f00 00
      0800 1d00 09000000`).toString('hex'));
  });

  it('RTM_GETLINK by index without VFs', () => {
    assert.equal(encodeGetLink(5, { ifindex: 3 }, { vfs: false }).toString('hex'),
      bytes('20000000 1200 0100 05000000 00000000 0000 0000 03000000 00000000 00000000').toString('hex'));
  });

  it('RTM_SETLINK with one IFLA_VF_MAC, ack requested', () => {
    const mac = `0100 0000 525400123456 ${'00'.repeat(26)}`;
    assert.equal(encodeSetVf(7, 2, 1, { kind: 'mac', mac: '52:54:00:12:34:56' }).toString('hex'), bytes(`
      50000000 1300 0500 07000000 00000000
      0000 0000 02000000 00000000 00000000
      3000 1600 2c00 0100 2800 0100 ${mac}`).toString('hex'));
  });

  const vectors: [string, Parameters<typeof encodeSetVf>[3], string][] = [
    ['vlan 100 qos 3 (802.1Q: IFLA_VF_VLAN)', { kind: 'vlan', vlan: 100, qos: 3, protocol: '802.1Q' }, rta(2, '01000000 64000000 03000000')],
    ['vlan 300 proto 802.1ad (IFLA_VF_VLAN_LIST)', { kind: 'vlan', vlan: 300, qos: 0, protocol: '802.1ad' },
      rta(12, rta(1, '01000000 2c010000 00000000 88a8 0000'))],
    ['spoofchk off', { kind: 'spoofchk', on: false }, rta(4, '01000000 00000000')],
    ['trust on', { kind: 'trust', on: true }, rta(9, '01000000 01000000')],
    ['state disable', { kind: 'link-state', state: 'disable' }, rta(5, '01000000 02000000')],
    ['min 10 max 1000 Mbit/s', { kind: 'rate', minTxRate: 10, maxTxRate: 1000 }, rta(6, '01000000 0a000000 e8030000')],
  ];
  for (const [name, value, vfAttr] of vectors) {
    it(`RTM_SETLINK: ${name}`, () => {
      const expected = nlmsg(19, 5, 9, IFINFO(4) + rta(22, rta(1, vfAttr)));
      assert.equal(encodeSetVf(9, 4, 1, value).toString('hex'), bytes(expected).toString('hex'));
    });
  }

  it('RTM_SETLINK with several attributes in one IFLA_VF_INFO, in the order given', () => {
    const mac = rta(1, `0100 0000 525400123456 ${'00'.repeat(26)}`);
    const expected = nlmsg(19, 5, 3, IFINFO(4) + rta(22, rta(1, mac + rta(2, '01000000 64000000 00000000') + rta(9, '01000000 01000000'))));
    const values = [{ kind: 'mac', mac: '52:54:00:12:34:56' }, { kind: 'vlan', vlan: 100, qos: 0, protocol: '802.1Q' }, { kind: 'trust', on: true }] as const;
    assert.equal(encodeSetVfAttributes(3, 4, 1, values).toString('hex'), bytes(expected).toString('hex'));
    assert.equal(encodeSetVfAttributes(3, 4, 1, [values[2]]).toString('hex'), encodeSetVf(3, 4, 1, values[2]).toString('hex'));
  });
});

function vfInfo(vf: number, mac: string, vlan: number, qos: number, options: { proto?: string; spoof?: number; trust?: number; state?: number } = {}): string {
  const v = le32(vf);
  return rta(1, [
    rta(1, v + mac + '00'.repeat(26)),
    rta(2, v + le32(vlan) + le32(qos)),
    rta(12, rta(1, v + le32(vlan) + le32(qos) + (options.proto ?? '8100') + '0000')),
    rta(3, v + le32(0)),
    rta(4, v + le32(options.spoof ?? 1)),
    rta(5, v + le32(options.state ?? 0)),
    rta(6, v + le32(0) + le32(100)),
    rta(7, v + le32(0xffffffff)),
    rta(9, v + le32(options.trust ?? 0)),
  ].join(''));
}

describe('host/sriov/rtnetlink-codec: decoding', () => {
  it('an RTM_NEWLINK of a PF with two VFs (VLAN list, unreported trust)', () => {
    const attrs = rta(3, Buffer.from('eth0\0').toString('hex')) + rta(4, le32(1500)) + rta(1, '525400aabbcc') + rta(16, '06') +
      rta(21, le32(2)) +
      rta(22, vfInfo(0, '020000000001', 100, 3) + vfInfo(1, '000000000000', 300, 0, { proto: '88a8', spoof: 0, trust: 0xffffffff, state: 2 }));
    const [message] = decodeMessages(bytes(nlmsg(16, 0, 42, IFINFO(2) + attrs)));
    assert.deepEqual(message, {
      kind: 'link', seq: 42, link: {
        ifindex: 2, ifname: 'eth0', mtu: 1500, address: '52:54:00:aa:bb:cc', operstate: 6, numVfs: 2, vfs: [
          { index: 0, mac: '02:00:00:00:00:01', vlan: 100, qos: 3, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 100 },
          { index: 1, mac: '00:00:00:00:00:00', vlan: 300, qos: 0, vlanProtocol: '802.1ad', spoofchk: false, linkState: 'disable', minTxRate: 0, maxTxRate: 100 },
        ],
      },
    });
  });

  it('a VF with only the legacy IFLA_VF_VLAN', () => {
    const nest = rta(1, rta(1, le32(3) + '020000000003' + '00'.repeat(26)) + rta(2, le32(3) + le32(7) + le32(1)));
    const [message] = decodeMessages(bytes(nlmsg(16, 0, 1, IFINFO(9) + rta(22, nest))));
    assert.ok(message?.kind === 'link');
    assert.deepEqual(message.link.vfs, [{ index: 3, mac: '02:00:00:00:00:03', vlan: 7, qos: 1, vlanProtocol: '802.1Q' }]);
  });

  it('an ack, an error with the request echoed, and NLMSG_DONE in one datagram', () => {
    const echoed = nlmsg(19, 5, 8, '');
    const datagram = nlmsg(2, 0x100, 7, le32(0) + echoed) + nlmsg(2, 0, 8, le32(-95) + echoed) + nlmsg(3, 2, 9, le32(0));
    assert.deepEqual(decodeMessages(bytes(datagram)), [
      { kind: 'ack', seq: 7 }, { kind: 'error', seq: 8, errno: 95 }, { kind: 'done', seq: 9 },
    ]);
  });

  it('refuses a message longer than the datagram and an attribute longer than its message', () => {
    assert.throws(() => decodeMessages(bytes(nlmsg(16, 0, 1, IFINFO(1)).slice(0, 40))), NetlinkDecodeError);
    const broken = IFINFO(1) + le16(200) + le16(3) + '00000000';
    assert.throws(() => decodeMessages(bytes(nlmsg(16, 0, 1, broken))), NetlinkDecodeError);
  });

  it('refuses a VF info without its MAC attribute (nothing names the VF)', () => {
    assert.throws(() => decodeMessages(bytes(nlmsg(16, 0, 1, IFINFO(1) + rta(22, rta(1, rta(4, le32(0) + le32(1))))))), /without IFLA_VF_MAC/);
  });
});
