// The daemon as wired (src/daemon/daemon.ts) with its SR-IOV pools on the fake
// kernel tree, the host's real ovsdb-server and libvirt's test:///default in
// this process: `vifctl define` gets each VF from the daemon's choose-vfs,
// status lists the PFs' links, and a reload changes what the next define gets.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { callControl } from '../../../src/api/control-client.js';
import type { StatusResult } from '../../../src/api/protocol.js';
import { runDefine } from '../../../src/cli/define.js';
import { diffConfig } from '../../../src/config/diff.js';
import { validateConfig } from '../../../src/config/schema.js';
import type { HostConfig } from '../../../src/config/schema.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { SriovSysfs } from '../../../src/host/sriov/sysfs.js';
import { LibvirtConnection } from '../../../src/libvirt/connection.js';
import { VIFD_XML_NS } from '../../../src/model/xmlns.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import { parseDomainXml } from '../../../src/sources/libvirt/domain-xml.js';
import { FakeSriovKernel } from '../../harness/fake-sysfs/kernel.js';
import { Lab } from '../../harness/lab.js';
import { uniqueName } from '../../harness/names.js';
import { requirePrerequisites } from '../../harness/prereq.js';

const PF = parsePciAddress('0000:01:00.0');

describe('integration: vifd as wired chooses VFs for vifctl define and reloads its SR-IOV pools', function () {
  this.timeout(60_000);
  let lab: Lab;
  let kernel: FakeSriovKernel;
  let connection: LibvirtConnection;
  const warnings: string[] = [];
  const log = { error: () => undefined, warn: (line: string) => { warnings.push(line); }, info: () => undefined, debug: () => undefined };

  before(async function () { await requirePrerequisites(this, ['root', 'ovs']); });
  beforeEach(async () => {
    lab = new Lab();
    warnings.length = 0;
    kernel = await FakeSriovKernel.create();
    lab.defer('fake kernel', () => kernel.remove());
    await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 3 });
    connection = await LibvirtConnection.open({ uri: 'test:///default' });
    lab.defer('libvirt connection', () => connection.close());
  });
  afterEach(() => lab.cleanup());

  /** The config file vifctl reads and the daemon's parsed config (metrics on a free port). */
  async function configFor(networks: Record<string, unknown>): Promise<{ path: string; config: HostConfig }> {
    const raw = { control_socket: lab.scratchPath('vifd.sock'), state_dir: lab.scratchPath('state'), libvirt: { uri: 'test:///default' }, log: { level: 'error' }, networks };
    const path = lab.scratchPath(`vifd-${randomUUID()}.yaml`);
    await writeFile(path, JSON.stringify(raw));
    return { path, config: { ...validateConfig(raw), metrics: { listen: { host: '127.0.0.1', port: 0 } } } };
  }

  async function start(config: HostConfig): Promise<Daemon> {
    const daemon = await Daemon.start(config, log, { sriov: { sysfs: new SriovSysfs(kernel.root, kernel), netlink: kernel.netlink, snapshotDir: lab.scratchPath('sriov') } });
    lab.defer('vifd', () => daemon.stop());
    return daemon;
  }

  async function define(configPath: string): Promise<{ code: number; out: string; vfs: (string | undefined)[] }> {
    const name = uniqueName('domain');
    const file = lab.scratchPath(`${name}.xml`);
    await writeFile(file, `<domain type='test'><name>${name}</name><uuid>${randomUUID()}</uuid><memory>65536</memory><os><type>hvm</type></os>
      <metadata><vifd:vifd xmlns:vifd="${VIFD_XML_NS}"><vifd:vif network="fast"/></vifd:vifd></metadata><devices/></domain>`);
    const out: string[] = [];
    const code = await runDefine({ domainXml: file, config: configPath, print: false, json: false }, (line) => out.push(line), () => undefined);
    if (code !== 0) return { code, out: out.join('\n'), vfs: [] };
    lab.defer(`domain ${name}`, () => connection.undefineDomain({ name }));
    const intent = parseDomainXml(await connection.domainXml({ name }, { inactive: true })).intent;
    return { code, out: out.join('\n'), vfs: intent?.vifs.map((vif) => (vif.kind === 'sriov-vf' ? vif.vf : undefined)) ?? [] };
  }

  it('define records the VF the daemon chose; status shows the PF link; after a reload excluding VF 0 and VF 1 the next define gets VF 2', async () => {
    const { path, config } = await configFor({ fast: { vlan: 100, sriov: { pfs: ['enp1s0'] } } });
    const daemon = await start(config);
    const first = await define(path);
    assert.deepEqual([first.code, first.vfs], [0, ['0000:01:10.0']], first.out);
    const second = await define(path);
    assert.deepEqual(second.vfs, ['0000:01:10.2'], 'the first definition\'s VF is passed over');
    const status = await callControl(config.controlSocket, 'status') as StatusResult;
    assert.deepEqual(status.pfs?.map((pf) => [pf.network, pf.pfName, pf.operstate, pf.carrier, pf.up]), [['fast', 'enp1s0', 'up', true, true]]);
    assert.deepEqual(status.vfs?.map((vf) => vf.state), ['free', 'free', 'free'], 'defining holds no VF');

    const next = await configFor({ fast: { vlan: 100, sriov: { pfs: ['enp1s0'], exclude: [0, 1] } } });
    await daemon.reload(next.config, diffConfig(config, next.config));
    // The reload's full reconcile rescans (or, when the daemon's first one has not run yet, that one does).
    const vfsNow = async () => (await callControl(config.controlSocket, 'status') as StatusResult).vfs?.map((vf) => vf.address);
    const deadline = Date.now() + 20_000;
    while (JSON.stringify(await vfsNow()) !== JSON.stringify(['0000:01:10.4']) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await vfsNow(), ['0000:01:10.4']);
    assert.deepEqual((await define(path)).vfs, ['0000:01:10.4']);
  });

  it('a daemon started without SR-IOV networks refuses choose-vfs, so define says so; a reload adding one warns that it needs a restart', async () => {
    const { config } = await configFor({});
    const daemon = await start(config);
    const withFast = await configFor({ fast: { vlan: 100, sriov: { pfs: ['enp1s0'] } } });
    const refused = await define(withFast.path);
    assert.equal(refused.code, 1);
    assert.match(refused.out, /^refused: .*this vifd has no SR-IOV network/);
    await daemon.reload(withFast.config, diffConfig(config, withFast.config));
    assert.ok(warnings.some((line) => /reload: fast is an SR-IOV network; vifd started without any, so their VFs are allocatable after a restart only/.test(line)), warnings.join('\n'));
  });
});
