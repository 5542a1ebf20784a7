// A locked Xen VIF's OpenFlow rules as data: the drop below the allows, the
// port's own cookie on every rule, IP only from the allowed addresses, IPv6
// neighbour discovery only when IPv6 addresses are allowed, hostile input refused.
import assert from 'node:assert/strict';
import { lockFlowLines, portCookie, VIFD_COOKIE_MARK } from '../../../../src/kinds/netback/lock-flows.js';
import { parseAllowedText } from '../../../../src/model/allowed-addresses.js';
import { InvalidInputError } from '../../../../src/model/errors.js';

const LOCK = { ofport: 7, mac: '00:16:3E:00:07:00', ipv4Allowed: ['10.0.0.5'], ipv6Allowed: [] as string[] };

describe('kinds/netback: locked-port rules', () => {
  it('the cookie is vifd\'s mark plus a stable per-device part', () => {
    assert.equal(portCookie('vif7.0'), portCookie('vif7.0'));
    assert.notEqual(portCookie('vif7.0'), portCookie('vif7.1'));
    assert.equal(BigInt(portCookie('vif7.0')) >> 32n, VIFD_COOKIE_MARK);
  });

  it('deletes its own rules, drops the port\'s traffic, lets through its MAC with the allowed IPv4, ARP and DHCP', () => {
    const c = portCookie('vif7.0');
    assert.deepEqual(lockFlowLines('vif7.0', LOCK), [
      `delete cookie=${c}/-1`,
      `add cookie=${c},priority=100,in_port=7,actions=drop`,
      `add cookie=${c},priority=110,udp,in_port=7,dl_src=00:16:3e:00:07:00,tp_src=68,tp_dst=67,actions=NORMAL`,
      `add cookie=${c},priority=110,arp,in_port=7,dl_src=00:16:3e:00:07:00,arp_sha=00:16:3e:00:07:00,arp_spa=10.0.0.5,actions=NORMAL`,
      `add cookie=${c},priority=110,ip,in_port=7,dl_src=00:16:3e:00:07:00,nw_src=10.0.0.5,actions=NORMAL`,
    ]);
  });

  it('no address listed: no IP rule at all (only DHCP and the drop)', () => {
    const lines = lockFlowLines('vif7.0', { ...LOCK, ipv4Allowed: [] });
    assert.equal(lines.filter((line) => /nw_src|arp_spa|ipv6/.test(line)).length, 0);
  });

  it('IPv6: the allowed source plus link-local and DAD ICMPv6', () => {
    const lines = lockFlowLines('vif7.0', { ...LOCK, ipv6Allowed: ['2001:db8::5'] }).join('\n');
    assert.match(lines, /ipv6,in_port=7,dl_src=00:16:3e:00:07:00,ipv6_src=2001:db8::5,actions=NORMAL/);
    assert.match(lines, /icmp6,in_port=7,dl_src=00:16:3e:00:07:00,ipv6_src=fe80::\/10,actions=NORMAL/);
    assert.match(lines, /icmp6,in_port=7,dl_src=00:16:3e:00:07:00,ipv6_src=::,icmp_type=135,actions=NORMAL/);
  });

  for (const bad of [{ ofport: 0 }, { ofport: 65280 }, { mac: 'ff:ff:ff:ff:ff:ff' }, { ipv4Allowed: ['10.0.0.5,actions=drop'] }, { ipv6Allowed: ['::1/128'] }]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => lockFlowLines('vif7.0', { ...LOCK, ...bad }), InvalidInputError);
    });
  }
});

describe('model: allowed addresses (strict)', () => {
  it('accepts addresses only, in their text forms', () => {
    assert.deepEqual(parseAllowedText('2001:db8::5,::,fe80::1,::ffff:10.0.0.1,1:2:3:4:5:6:7:8', 6, 'f'), ['2001:db8::5', '::', 'fe80::1', '::ffff:10.0.0.1', '1:2:3:4:5:6:7:8']);
    assert.deepEqual(parseAllowedText('10.0.0.5,192.168.1.255,10.0.0.5', 4, 'f'), ['10.0.0.5', '192.168.1.255']);
  });
  for (const [text, family] of [[':::', 6], ['1::2::3', 6], ['12345::', 6], ['1:2:3:4:5:6:7:8:9', 6], ['fe80::1%eth0', 6], ['10.0.0.256', 4], ['010.0.0.1', 4], ['10.0.0.1,', 4], ['10.0.0.1, 10.0.0.2', 4]] as const) {
    it(`refuses ${JSON.stringify(text)} as IPv${family}, naming the field`, () => {
      assert.throws(() => parseAllowedText(text, family, 'ipv4-allowed'), (error: unknown) => error instanceof InvalidInputError && error.context.field === 'ipv4-allowed');
    });
  }
});
