// vifd's own rtnetlink socket and codec against this kernel. The host has no
// SR-IOV, so no link here has VFs, but the request/response path is real: a
// GETLINK with RTEXT_FILTER_VF on lo and on a veth, cross-checked with
// `ip -json link show`, and the kernel's refusal of a VF attribute on a link
// without VF operations, mapped to a typed error naming PF, VF and attribute.
import assert from 'node:assert/strict';
import { VfNetlinkError } from '../../../src/host/sriov/errors.js';
import { KernelVfNetlink } from '../../../src/host/sriov/netlink.js';
import { run } from '../../harness/exec.js';
import { createVethPair, deleteLink } from '../../harness/net.js';
import { uniqueName } from '../../harness/names.js';
import { requirePrerequisites } from '../../harness/prereq.js';

interface IpLink { readonly ifindex: number; readonly ifname: string; readonly mtu: number; readonly address: string; readonly operstate: string; readonly vfinfo_list?: unknown[] }

async function ipLink(name: string): Promise<IpLink> {
  const [link] = JSON.parse(await run(['ip', '-details', '-json', 'link', 'show', 'dev', name])) as IpLink[];
  assert.ok(link !== undefined);
  return link;
}

/** IF_OPER_* as iproute2 prints them (include/uapi/linux/if.h order). */
const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];

describe('integration: sriov rtnetlink socket on this kernel', function () {
  this.timeout(20_000);
  let netlink: KernelVfNetlink;
  const links: string[] = [];

  before(async function () { await requirePrerequisites(this, ['root']); });
  beforeEach(() => { netlink = KernelVfNetlink.open(); });
  afterEach(async () => {
    netlink.close();
    for (const link of links.splice(0)) await deleteLink(link);
  });

  async function crossCheck(name: string): Promise<void> {
    const seen = await ipLink(name);
    for (const target of [{ ifname: name }, { ifindex: seen.ifindex }]) {
      const link = await netlink.getLink(target);
      assert.deepEqual(
        { ifindex: link.ifindex, ifname: link.ifname, mtu: link.mtu, address: link.address, operstate: OPERSTATES[link.operstate ?? 0], vfs: link.vfs },
        { ifindex: seen.ifindex, ifname: seen.ifname, mtu: seen.mtu, address: seen.address, operstate: seen.operstate, vfs: seen.vfinfo_list ?? [] },
      );
      assert.equal(link.numVfs, undefined, 'a link without a PCI parent reports no IFLA_NUM_VF');
    }
  }

  it('reads lo as ip -json does', () => crossCheck('lo'));

  it('reads a veth (its MAC, MTU and state changed first) as ip -json does', async () => {
    const name = uniqueName('veth');
    const peer = uniqueName('veth');
    await createVethPair(name, peer);
    links.push(name);
    await run(['ip', 'link', 'set', 'dev', name, 'address', '02:11:22:33:44:55', 'mtu', '1400', 'up']);
    await crossCheck(name);
    assert.equal((await netlink.getLink({ ifname: name })).address, '02:11:22:33:44:55');
  });

  it('a VF attribute on a link without VF operations: EOPNOTSUPP naming PF, VF and attribute', async () => {
    const lo = await netlink.getLink({ ifname: 'lo' });
    for (const value of [{ kind: 'mac', mac: '02:00:00:00:00:01' }, { kind: 'link-state', state: 'enable' }] as const) {
      await assert.rejects(netlink.setVf({ ifindex: lo.ifindex, name: 'lo' }, 3, value), (error: unknown) => {
        assert.ok(error instanceof VfNetlinkError);
        assert.equal(error.errno, 95);
        assert.ok(error.isUnsupported);
        assert.deepEqual(error.location, { pf: 'lo', vf: 3, attribute: value.kind });
        assert.match(error.message, new RegExp(`^PF lo VF 3 ${value.kind}: setting .* failed: EOPNOTSUPP`));
        return true;
      });
    }
  });

  it('a link that does not exist: ENODEV', async () => {
    await assert.rejects(netlink.getLink({ ifname: 'vtnosuchlink0' }), /PF vtnosuchlink0: RTM_GETLINK failed: ENODEV/);
  });

  it('many requests on one socket keep answers matched to requests', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => netlink.getLink({ ifindex: 1 })));
    assert.ok(answers.every((link) => link.ifname === 'lo'));
  });
});
