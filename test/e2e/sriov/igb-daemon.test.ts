// The real vifd daemon (this checkout's dist/src/cli/vifd.js) with an SR-IOV
// network on the real igb PF driver: one TCG guest (QEMU >= 8's emulated igb,
// Debian's generic kernel; test/harness/sriov-guest/) for the whole suite. In
// the guest: a private ovsdb-server, libvirt's test driver from a file (the
// daemon's own connection sees that file's running domain, with its vifd
// SR-IOV VIF), the daemon with private sockets, vifctl, the metrics endpoint
// and the libvirt hook shim. Every test asserts here on the real driver's
// state: `ip -json -details link show` of the PF and the VFs' sysfs driver links.
// Hot-plug (vifctl attach/detach) cannot succeed here: libvirt's test driver
// implements no virDomainAttachDeviceFlags/virDomainDetachDeviceFlags (9.0.0),
// so the suite proves the rollback of a refused attach on the real driver.
import assert from 'node:assert/strict';
import type { StatusResult, VfStatusRow } from '../../../src/api/protocol.js';
import type { VfSnapshot } from '../../../src/host/sriov/snapshots.js';
import type { VfNetConfig } from '../../../src/model/sriov/vf-settings.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { GuestPf } from '../../harness/sriov-guest/guest-pf.js';
import type { HookShimRun } from '../../harness/hook-shim.js';
import type { ProgramResult } from '../../harness/sriov-guest/operations.js';
import { prepareIgbGuestImages } from '../../harness/sriov-guest/images.js';
import { IgbGuest } from '../../harness/sriov-guest/vm.js';

const VFS = 4;
const DIR = '/run/vifd-e2e';
const SOCKET = `${DIR}/vifd.sock`;
const HOOK_SOCKET = `${DIR}/hook.sock`;
const CONFIG = `${DIR}/vifd.yaml`;
const LIBVIRT_FILE = `${DIR}/libvirt-test.xml`;
const METRICS = '127.0.0.1:9477';
/** The daemon's restore snapshots (daemon/sriov.ts SNAPSHOT_DIR; the guest's /run is its own tmpfs). */
const SNAPSHOTS = '/run/vifd/sriov';
const UNTOUCHED = { mac: '00:00:00:00:00:00', vlan: 0, qos: 0, vlanProtocol: '802.1Q', spoofchk: true, trust: false, linkState: 'auto', minTxRate: 0, maxTxRate: 0 };
/** What network `fast` asks of a VF (besides the VIF's MAC); igb reports no link state, auto is its only one. */
const FAST = { vlan: 100, qos: 0, vlanProtocol: '802.1Q', spoofchk: false, trust: true, linkState: 'auto', minTxRate: 0, maxTxRate: 100 };

interface Vm { readonly name: string; readonly uuid: string; readonly mac: string; readonly vf: number }
const RUNNING: Vm = { name: 'vf-running', uuid: '5a0e2b1c-3d4f-4a5b-8c6d-7e8f9a0b1c01', mac: '52:54:00:1e:b0:01', vf: 1 };
const HOOKED: Vm = { name: 'vf-hooked', uuid: '5a0e2b1c-3d4f-4a5b-8c6d-7e8f9a0b1c02', mac: '52:54:00:1e:b0:02', vf: 2 };
const ORPHAN_MAC = '52:54:00:1e:b0:99';
/** libvirt's answer (as vifd reports it) where the driver lacks `api`: the test driver has no virDomainAttachDeviceFlags/virDomainDetachDeviceFlags (9.0.0). */
const unsupported = (api: string): string => `${api} failed: this function is not supported by the connection driver: ${api}`;
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A domain with one vifd SR-IOV VIF on `address`, rendered as vifd renders it (xml-templates/hostdev-interface.xml). */
function domainXml(vm: Vm, address: string, type: string): string {
  const [domain = '', bus = '', slotFn = ''] = address.split(':');
  const [slot = '', fn = ''] = slotFn.split('.');
  return `<domain type='${type}'><name>${vm.name}</name><uuid>${vm.uuid}</uuid><memory>65536</memory><os><type>hvm</type></os>
  <metadata><vifd:vifd xmlns:vifd="https://vifd.dev/xmlns/vifd/1"><vifd:vif index="0" network="fast" vf="${address}" mac="${vm.mac}"/></vifd:vifd></metadata>
  <devices><interface type='hostdev' managed='yes'><mac address='${vm.mac}'/><driver name='vfio'/>
    <source><address type='pci' domain='0x${domain}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'/></source><vlan><tag id='100'/></vlan>
  </interface></devices></domain>`;
}

describe('e2e: the vifd daemon with an SR-IOV network on the real igb PF driver (TCG guest)', function () {
  this.timeout(120_000);
  let guest: IgbGuest | undefined;
  let pf: GuestPf;
  const addresses: string[] = [];

  const call = <T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> => pf.guest.call<T>(op, args);
  const startDaemon = async (): Promise<void> => {
    await call('startDaemon', { config: CONFIG, socket: SOCKET });
    await call('waitForDaemonLog', { pattern: 'vifd started' });
  };
  /** `vifctl status --json` in the guest (node starts slowly under TCG: the other reads use the control socket directly). */
  const vifctlStatus = async (): Promise<StatusResult> =>
    JSON.parse(await pf.ok(['node', '/vifd/dist/src/cli/vifctl.js', 'status', '--json', '--socket', SOCKET])) as StatusResult;
  const vfRowsOf = (status: StatusResult): [number, string, string | undefined][] =>
    (status.vfs ?? []).map((row: VfStatusRow) => [row.index, row.state, row.owner === undefined ? undefined : `${row.owner.uuid}/${row.owner.index}`]);
  const vfRows = async (): Promise<[number, string, string | undefined][]> => vfRowsOf(await call<StatusResult>('control', { socket: SOCKET, method: 'status' }));
  /** VF `index` as the real driver reports it (ip -json) with its sysfs driver. */
  const realVf = async (index: number): Promise<VfNetConfig & { driver: string | undefined }> =>
    ({ ...(await pf.ipVfs())[index] as VfNetConfig, driver: (await pf.vfDevice(index)).driver });
  // The node fallback is pointed at a socket nobody serves: only the shim's nc fast path to the hook socket can succeed.
  const hook = (vm: Vm, op: string): Promise<HookShimRun> =>
    call<HookShimRun>('hookShim', { domain: vm.name, op, xml: domainXml(vm, addresses[vm.vf] ?? '', 'kvm'), hookSocket: HOOK_SOCKET, socket: `${DIR}/nobody.sock` });

  before(async function () {
    this.timeout(20 * 60_000);
    // The guest runs the host's /usr: its ovsdb-server and the hook shim's netcat-openbsd come from there.
    await requirePrerequisites(this, ['root', 'ping', 'ovs-programs', 'netcat']);
    const images = await prepareIgbGuestImages(this);
    const booted = Date.now();
    guest = await IgbGuest.boot(images, { memoryMiB: 768 });
    console.log(`      igb guest: agent up after ${((Date.now() - booted) / 1000).toFixed(1)} s`);
    pf = await GuestPf.find(guest);
    await pf.bringUp();
    // The VFs exist before the domain file names one (the daemon would write sriov_numvfs only from 0).
    await call('enableVfs', { address: pf.address, count: VFS });
    await pf.bringUp();
    addresses.push(...(await pf.readPf()).vfs.map((vf) => vf.address));
    // VF 2's own settings, which its release must bring back.
    await pf.setVf(HOOKED.vf, { kind: 'mac', mac: '02:00:00:00:00:22' });
    await pf.ok(['mkdir', '-p', DIR]);
    await call('writeFile', { path: LIBVIRT_FILE, text: `<node>\n${domainXml(RUNNING, addresses[RUNNING.vf] ?? '', 'test')}\n</node>\n` });
    const ovsdb = await call<string>('startOvsdb', { dir: `${DIR}/ovs` });
    await call('writeFile', { path: CONFIG, text: JSON.stringify({
      control_socket: SOCKET, ovsdb: { socket: ovsdb }, libvirt: { uri: `test://${LIBVIRT_FILE}` }, metrics: { listen: METRICS }, log: { level: 'debug' },
      networks: { fast: { vlan: 100, sriov: { pfs: [pf.netdev], num_vfs: VFS, spoofchk: false, trust: true, max_tx_rate: 100 } } },
    }) });
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || guest === undefined) return;
    console.log(`--- vifd's log in the guest (tail) ---\n${(await call<string>('daemonLog').catch(String)).slice(-6000)}`);
  });

  after(async () => {
    await guest?.stop();
  });

  it('at start sets the VF of a running domain\'s SR-IOV VIF on the real driver (snapshot first); vifctl status and metrics show it attached, the rest free', async () => {
    await startDaemon();
    // libvirt reports the VF in a running guest: vifd sets its attributes but never rebinds it (the guest's
    // QEMU holds it; managed='yes' made libvirt bind it at the start). The test driver binds nothing: igbvf.
    assert.deepEqual(await realVf(RUNNING.vf), { index: RUNNING.vf, mac: RUNNING.mac, ...FAST, driver: 'igbvf' });
    const snapshot = JSON.parse(await call<string>('readFile', { path: `${SNAPSHOTS}/${addresses[RUNNING.vf] ?? ''}.json` })) as VfSnapshot;
    assert.deepEqual([snapshot.owner, snapshot.original], [{ vmUuid: RUNNING.uuid, vifIndex: 0 }, { index: RUNNING.vf, ...UNTOUCHED }], 'snapshotted before vifd first set it');
    assert.deepEqual(await realVf(0), { index: 0, ...UNTOUCHED, driver: 'igbvf' });
    const status = await vifctlStatus();
    assert.deepEqual(vfRowsOf(status), [[0, 'free', undefined], [1, 'attached', `${RUNNING.uuid}/0`], [2, 'free', undefined], [3, 'free', undefined]]);
    const vif = status.vifs.find((row) => row.uuid === RUNNING.uuid);
    assert.deepEqual([vif?.kind, vif?.state, vif?.mac, vif?.vlan, vif?.vf?.address], ['sriov-vf', 'ok', RUNNING.mac, 'access 100', addresses[RUNNING.vf]]);
    const metrics = await call<string>('metrics', { url: `http://${METRICS}/metrics` });
    assert.match(metrics, new RegExp(`vifd_sriov_vfs\\{network="fast",pf="${pf.netdev}",state="attached"\\} 1\\n`));
    assert.match(metrics, new RegExp(`vifd_sriov_vfs\\{network="fast",pf="${pf.netdev}",state="free"\\} 3\\n`));
    for (const attribute of ['mac', 'vlan', 'spoofchk', 'trust', 'rate']) assert.match(metrics, new RegExp(`vifd_sriov_drift_repairs\\{attribute="${attribute}"\\} 1\\n`));
  });

  it('the libvirt hook shim: prepare of a new domain sets its recorded VF up, release restores it to igbvf as it was', async () => {
    const before = await realVf(HOOKED.vf);
    assert.equal(before.mac, '02:00:00:00:00:22');
    const prepared = await hook(HOOKED, 'prepare');
    assert.equal(prepared.code, 0, prepared.stderr);
    assert.deepEqual(await realVf(HOOKED.vf), { index: HOOKED.vf, mac: HOOKED.mac, ...FAST, driver: 'vfio-pci' });
    assert.deepEqual((await vfRows())[HOOKED.vf], [HOOKED.vf, 'attached', `${HOOKED.uuid}/0`]);
    assert.deepEqual(await pf.ok(['ls', SNAPSHOTS + '/']).then((out) => out.split('\n').filter(Boolean).sort()), [addresses[RUNNING.vf], addresses[HOOKED.vf]].map((a) => `${a ?? ''}.json`).sort());

    const released = await hook(HOOKED, 'release');
    assert.equal(released.code, 0, released.stderr);
    assert.deepEqual(await realVf(HOOKED.vf), before, 'MAC, VLAN, spoofchk, trust, rate and driver as before the prepare');
    assert.deepEqual((await vfRows())[HOOKED.vf], [HOOKED.vf, 'free', undefined]);
    assert.deepEqual(await pf.ok(['ls', `${SNAPSHOTS}/`]), `${addresses[RUNNING.vf] ?? ''}.json\n`, 'the released VF\'s snapshot is gone');
  });

  it('SIGKILLed with VFs attached, restarted: the running domain keeps its VF untouched, a VF whose VM stopped meanwhile is restored, an orphan with vifd\'s MAC prefix is reset', async () => {
    const original = await realVf(HOOKED.vf);
    assert.equal((await hook(HOOKED, 'prepare')).code, 0);
    assert.equal((await realVf(HOOKED.vf)).driver, 'vfio-pci');
    assert.equal(await call('signalDaemon', { signal: 'SIGKILL' }), 'signal SIGKILL');
    // While vifd is down: HOOKED's VM stops (its release hook finds no daemon), and someone leaves vifd's MAC on VF 3.
    await pf.ok(['ip', 'link', 'set', 'dev', pf.netdev, 'vf', '3', 'mac', ORPHAN_MAC]);
    assert.equal((await realVf(3)).mac, ORPHAN_MAC);
    await startDaemon();
    assert.deepEqual(await realVf(RUNNING.vf), { index: RUNNING.vf, mac: RUNNING.mac, ...FAST, driver: 'igbvf' }, 'the running guest\'s VF is not reset');
    assert.deepEqual(await realVf(HOOKED.vf), original, 'restored from its snapshot: igbvf, its own MAC, no VLAN');
    assert.deepEqual(await realVf(3), { index: 3, ...UNTOUCHED, driver: 'igbvf' }, 'the orphan is reset');
    assert.deepEqual(await vfRows(), [[0, 'free', undefined], [1, 'attached', `${RUNNING.uuid}/0`], [2, 'free', undefined], [3, 'free', undefined]]);
    assert.deepEqual(await pf.ok(['ls', `${SNAPSHOTS}/`]), `${addresses[RUNNING.vf] ?? ''}.json\n`, 'the attached VF keeps its snapshot, nothing else is left');
    const metrics = await call<string>('metrics', { url: `http://${METRICS}/metrics` });
    assert.doesNotMatch(metrics, /vifd_sriov_drift_repairs\{attribute="[a-z-]+"\} [1-9]/, 'the running guest\'s VF was not set again');
  });
  it('vifctl attach of a VIF on network fast, refused by libvirt (its test driver has no device hot-plug), is rolled back on the real driver; vifctl detach, refused the same way, leaves the VF attached', async () => {
    const vifctl = (...args: string[]): Promise<ProgramResult> => pf.run(['node', '/vifd/dist/src/cli/vifctl.js', ...args, '--socket', SOCKET], 60_000);
    const allVfs = async (): Promise<unknown[]> => { const vfs: unknown[] = []; for (let index = 0; index < VFS; index += 1) vfs.push(await realVf(index)); return vfs; };
    const before = await allVfs();
    const attached = await vifctl('attach', RUNNING.name, '--network', 'fast');
    assert.deepEqual([attached.code, attached.stderr], [1, `vifctl attach: VM "${RUNNING.name}": ${unsupported('virDomainAttachDeviceFlags')}\n`]);
    // Before asking libvirt, vifd claimed the first free VF, bound it to vfio-pci and set it: the rollback had something to undo.
    await call('waitForDaemonLog', { pattern: `VF ${escaped(addresses[0] ?? '')} \\(${pf.netdev} VF 0\\) set for VM ${RUNNING.uuid} VIF 1`, timeoutMs: 1000 });
    assert.deepEqual(await allVfs(), before, 'every VF as before: VF 0 back on igbvf without MAC or VLAN, VF 1 still set for the running domain');
    const status = await vifctlStatus();
    assert.deepEqual(vfRowsOf(status), [[0, 'free', undefined], [1, 'attached', `${RUNNING.uuid}/0`], [2, 'free', undefined], [3, 'free', undefined]]);
    assert.deepEqual(status.vifs.filter((row) => row.uuid === RUNNING.uuid).map((row) => row.index), [0], 'the domain\'s intent is as before: only VIF 0');
    assert.deepEqual(await pf.ok(['ls', `${SNAPSHOTS}/`]), `${addresses[RUNNING.vf] ?? ''}.json\n`, 'the claimed VF\'s snapshot is gone');

    const detached = await vifctl('detach', RUNNING.name, '--index', '0');
    assert.deepEqual([detached.code, detached.stderr], [1, `vifctl detach: VM "${RUNNING.name}": ${unsupported('virDomainDetachDeviceFlags')}\n`]);
    assert.deepEqual(await realVf(RUNNING.vf), { index: RUNNING.vf, mac: RUNNING.mac, ...FAST, driver: 'igbvf' });
    assert.deepEqual(await vfRows(), [[0, 'free', undefined], [1, 'attached', `${RUNNING.uuid}/0`], [2, 'free', undefined], [3, 'free', undefined]]);
  });
});
