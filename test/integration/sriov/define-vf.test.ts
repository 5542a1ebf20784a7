// `vifctl define` of a VM with VIFs on an SR-IOV network: the running daemon's
// pools (the daemon's SR-IOV wiring on the fake kernel tree, served on a real
// control socket) choose each VF, vifctl records it and renders the hostdev
// interface, and libvirt (test:///default, in this process, DEFINE_VALIDATE
// off as vifctl defines) keeps it. The choice reserves nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../../src/api/control-server.js';
import { runDefine } from '../../../src/cli/define.js';
import { validateConfig } from '../../../src/config/schema.js';
import { SriovWiring } from '../../../src/daemon/sriov.js';
import type { EngineLog } from '../../../src/engine/types.js';
import { SriovSysfs } from '../../../src/host/sriov/sysfs.js';
import { LibvirtConnection } from '../../../src/libvirt/connection.js';
import { VIFD_XML_NS } from '../../../src/model/xmlns.js';
import { parsePciAddress } from '../../../src/model/sriov/pci.js';
import { parseDomainXml } from '../../../src/sources/libvirt/domain-xml.js';
import { FakeSriovKernel } from '../../harness/fake-sysfs/kernel.js';
import { uniqueName } from '../../harness/names.js';

const quiet: EngineLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const PF = parsePciAddress('0000:01:00.0');

const domainXml = (name: string, uuid: string, vifs: readonly string[]): string => `<domain type='test'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory>65536</memory>
  <os><type>hvm</type></os>
  <metadata>
    <vifd:vifd xmlns:vifd="${VIFD_XML_NS}">${vifs.map((vif) => `\n      <vifd:vif ${vif}/>`).join('')}
    </vifd:vifd>
  </metadata>
  <devices/>
</domain>
`;

describe('integration: vifctl define chooses SR-IOV VFs through the running daemon', function () {
  this.timeout(30_000);
  let kernel: FakeSriovKernel;
  let dir: string;
  let socket: string;
  let configPath: string;
  let wiring: SriovWiring;
  let server: ControlServer | null;
  let connection: LibvirtConnection;
  const defined: string[] = [];

  async function define(name: string, uuid: string, vifs: readonly string[], extra: readonly string[] = []): Promise<{ code: number; out: string; err: string }> {
    const file = join(dir, `${name}.xml`);
    await writeFile(file, domainXml(name, uuid, vifs));
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDefine({ domainXml: file, config: configPath, print: extra.includes('--print'), json: extra.includes('--json') },
      (line) => out.push(line), (line) => err.push(line));
    if (code === 0 && !extra.includes('--print')) defined.push(name);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const definition = async (name: string) => parseDomainXml(await connection.domainXml({ name }, { inactive: true }));
  const recordedVfs = async (name: string) => (await definition(name)).intent?.vifs.map((vif) => (vif.kind === 'sriov-vf' ? vif.vf : undefined));

  beforeEach(async () => {
    kernel = await FakeSriovKernel.create();
    await kernel.addPf({ address: PF, netdev: 'enp1s0', totalVfs: 7, numVfs: 3 });
    dir = await mkdtemp(join(tmpdir(), 'vifd-define-vf-'));
    socket = join(dir, 'vifd.sock');
    configPath = join(dir, 'vifd.yaml');
    const raw = { control_socket: socket, libvirt: { uri: 'test:///default' }, networks: { fast: { vlan: 100, sriov: { pfs: ['enp1s0'] } } } };
    await writeFile(configPath, JSON.stringify(raw));
    const sriov = SriovWiring.fromConfig(validateConfig(raw), quiet, { sysfs: new SriovSysfs(kernel.root, kernel), netlink: kernel.netlink, snapshotDir: join(dir, 'sriov') });
    assert.ok(sriov !== null);
    wiring = sriov;
    await wiring.refresh(null);
    server = await ControlServer.listen(socket, { 'choose-vfs': (params) => Promise.resolve(wiring.chooseVfs(params)) });
    // Held open so every in-process connection to test:///default shares its one state.
    connection = await LibvirtConnection.open({ uri: 'test:///default' });
  });
  afterEach(async () => {
    for (const name of defined.splice(0)) await connection.undefineDomain({ name }).catch(() => undefined);
    await connection.close();
    await server?.close();
    wiring.close();
    await kernel.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it('records the lowest free VF and renders its hostdev; nothing is reserved; a define again keeps it; another VM gets another', async () => {
    const [a, b] = [uniqueName('domain'), uniqueName('domain')];
    const [uuidA, uuidB] = [randomUUID(), randomUUID()];
    const first = await define(a, uuidA, ['network="fast"']);
    assert.equal(first.code, 0, `${first.out}\n${first.err}`);
    assert.deepEqual(await recordedVfs(a), ['0000:01:10.0']);
    const interfaces = (await definition(a)).interfaces;
    assert.deepEqual(interfaces.map((entry) => [entry.type, entry.hostdevAddress]), [['hostdev', '0000:01:10.0']]);
    assert.deepEqual(wiring.rows().map((row) => row.state), ['free', 'free', 'free'], 'a defined VM holds no VF');
    const again = await define(a, uuidA, ['network="fast"']);
    assert.equal(again.code, 0, again.out);
    assert.deepEqual(await recordedVfs(a), ['0000:01:10.0'], 'sticky: the VF its definition had');
    const other = await define(b, uuidB, ['network="fast"', 'network="fast"']);
    assert.equal(other.code, 0, other.out);
    assert.deepEqual(await recordedVfs(b), ['0000:01:10.2', '0000:01:10.4'], 'VFs another definition records are passed over; one VF per VIF');
  });

  it('when only VFs other definitions record are free, takes one and warns naming that VM', async () => {
    const [a, b] = [uniqueName('domain'), uniqueName('domain')];
    assert.equal((await define(a, randomUUID(), ['network="fast"', 'network="fast"', 'network="fast"'])).code, 0);
    const shared = await define(b, randomUUID(), ['network="fast"']);
    assert.equal(shared.code, 0, shared.out);
    assert.deepEqual(await recordedVfs(b), ['0000:01:10.0']);
    assert.match(shared.err, new RegExp(`warning: VIF 0: VF 0000:01:10.0 of network fast is also recorded by VM "${a}" \\(.*\\) \\(no other VF was free\\); the two VMs cannot run at the same time`));
  });

  it('refuses an exhausted pool naming the network, its PF and the counts (text and --json)', async () => {
    for (const index of [0, 1, 2]) wiring.vfs.claim('fast', { vmUuid: randomUUID(), vifIndex: index });
    const name = uniqueName('domain');
    const refused = await define(name, randomUUID(), ['network="fast"']);
    assert.equal(refused.code, 1);
    assert.match(refused.out, /^refused: .*network fast: no free VF on enp1s0 \(0000:01:00.0\) 0 of 3 free$/);
    const json = JSON.parse((await define(name, randomUUID(), ['network="fast"'], ['--json'])).out) as Record<string, unknown>;
    assert.deepEqual([json.ok, json.code], [false, 'control-call']);
    assert.match(String(json.reason), /no free VF on enp1s0/);
  });

  it('refuses a recorded VF that is not in the network\'s pool, naming it; keeps one that is', async () => {
    const name = uniqueName('domain');
    const refused = await define(name, randomUUID(), ['network="fast" vf="0000:05:10.0"']);
    assert.equal(refused.code, 1);
    assert.match(refused.out, new RegExp(`^refused: VM "${name}" VIF 0: vf: network fast: VF 0000:05:10.0 is not in its pool`));
    const uuid = randomUUID();
    const kept = await define(name, uuid, ['network="fast" vf="0000:01:10.4"']);
    assert.equal(kept.code, 0, kept.out);
    assert.deepEqual(await recordedVfs(name), ['0000:01:10.4']);
    // A running guest of another VM has it: defined as recorded, with a warning naming that VM.
    await wiring.vfs.refresh({ runningUsers: new Map([[parsePciAddress('0000:01:10.4'), { vmUuid: 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b', vifIndex: 2 }]]) });
    const used = await define(name, uuid, ['network="fast" vf="0000:01:10.4"']);
    assert.equal(used.code, 0, used.out);
    assert.match(used.err, /warning: VIF 0: VF 0000:01:10.4 of network fast is also in use by running VM a44f6903-f1d5-423e-bb20-1c84a87f2e4b VIF 2; the two VMs cannot run at the same time/);
  });

  it('without a daemon: refused with exit 3 naming the VM, the VIF and the network (text and --json); recorded VFs define with a warning', async () => {
    await server?.close();
    server = null;
    const name = uniqueName('domain');
    const uuid = randomUUID();
    const text = await define(name, uuid, ['network="fast" vf="0000:01:10.2"', 'index="3" network="fast"']);
    assert.equal(text.code, 3);
    assert.match(text.out, new RegExp(`^refused: VM "${name}" VIF 3: vf: is on SR-IOV network fast, whose VF only the running vifd can choose, and vifd did not answer on ${socket}`));
    const json = JSON.parse((await define(name, uuid, ['index="3" network="fast"'], ['--json'])).out) as { ok: boolean; code: string; context: Record<string, unknown> };
    assert.deepEqual([json.ok, json.code, json.context.domain, json.context.vifIndex, json.context.value], [false, 'daemon-unavailable', name, 3, 'fast']);
    const print = await define(name, uuid, ['network="fast"'], ['--print']);
    assert.equal(print.code, 3, 'define --print needs the daemon\'s choice too');
    const recorded = await define(name, uuid, ['network="fast" vf="0000:01:10.2"']);
    assert.equal(recorded.code, 0, recorded.out);
    assert.match(recorded.err, /vifd did not answer .* recorded VFs .* were not checked/);
  });

  it('define --print shows the chosen VF\'s hostdev without defining anything', async () => {
    const print = await define(uniqueName('domain'), randomUUID(), ['network="fast"'], ['--print']);
    assert.equal(print.code, 0, print.out);
    assert.match(print.out, /<vifd:vif index="0" network="fast" vf="0000:01:10.0"\/>/);
    assert.match(print.out, /<interface type='hostdev' managed='yes'>[\s\S]*bus='0x01' slot='0x10' function='0x0'/);
  });

  it('a start (the planner\'s claim) of a VM whose recorded VF a running VM has is refused naming that VM and what to do', async () => {
    const web1 = 'a44f6903-f1d5-423e-bb20-1c84a87f2e4b';
    const named = SriovWiring.fromConfig(validateConfig({ networks: { fast: { vlan: 100, sriov: { pfs: ['enp1s0'] } } } }), quiet,
      { sysfs: new SriovSysfs(kernel.root, kernel), netlink: kernel.netlink, snapshotDir: join(dir, 'sriov'), vmName: (uuid) => (uuid === web1 ? 'web1' : undefined) });
    assert.ok(named !== null);
    const vf = parsePciAddress('0000:01:10.2');
    // libvirt reports web1 running with the VF (a scan with libvirt's facts).
    await named.vfs.refresh({ runningUsers: new Map([[vf, { vmUuid: web1, vifIndex: 1 }]]) });
    assert.equal(named.vfs.views().find((view) => view.slot.address === vf)?.state.kind, 'attached');
    assert.throws(() => named.vfs.claim('fast', { vmUuid: randomUUID(), vifIndex: 0 }, vf),
      /VIF 0: vf: network fast: VF 0000:01:10.2 recorded in its definition is in use by running VM "web1" \(a44f6903-f1d5-423e-bb20-1c84a87f2e4b\) VIF 1: a VF recorded in a stopped VM's definition is not held for it; define this VM again \(vifctl define\) to choose a free VF/);
    named.close();
  });
});
