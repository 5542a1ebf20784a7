// vifd's systemd unit as a real systemd runs it (test/harness/private-systemd.ts:
// the host's systemd 252 as PID 1 of private namespaces, with the installed
// unit, unchanged, as its only service; drop-ins only where a case says so).
// Under `make test` the unit and programs are the installed Debian package's.
// What it proves: Type=notify (start returns once the control socket serves,
// with every sandboxing directive of the unit applied and both services
// reached), the watchdog (WATCHDOG_USEC given, pings seen, a stalled process
// restarted), ExecReload (SIGHUP applies a new config, keeps the old one when
// the new is invalid), RestartPreventExitStatus=78 (a config error fails once
// instead of looping), and that stop removes /run/vifd.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, rmdirSync, readdirSync, writeFileSync } from 'node:fs';
import { Lab } from '../../harness/lab.js';
import { requirePrerequisites } from '../../harness/prereq.js';
import { PrivateSystemd } from '../../harness/private-systemd.js';
import { underPackage, vifctlCommand } from '../../harness/programs.js';

const UNIT = underPackage() ? '/lib/systemd/system/vifd.service' : '/etc/systemd/system/vifd.service';
const CONFIG_DIR = '/etc/vifd';
const CONFIG = `${CONFIG_DIR}/vifd.yaml`;
const STATE_DIR = '/var/lib/vifd';

interface InfoNetworks { networks: { name: string; bridge: string; bridgeExists: boolean }[]; libvirt: { state: string }; ovsdb: { state: string } }

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('e2e: the vifd unit under a real systemd', function () {
  this.timeout(180_000);
  const lab = new Lab();
  let systemd: PrivateSystemd;
  let bridge: string;
  const made: string[] = [];

  const config = (networks: Record<string, string>): void => {
    writeFileSync(CONFIG, `networks:\n${Object.entries(networks).map(([name, br]) => `  ${name}:\n    bridge: ${br}\n`).join('')}`, { mode: 0o600 });
  };

  const info = async (): Promise<InfoNetworks> => {
    // --socket: vifctl otherwise reads control_socket from the config, which one case makes invalid.
    const result = await systemd.exec([...vifctlCommand(), 'info', '--json', '--socket', '/run/vifd/vifd.sock']);
    assert.equal(result.code, 0, `vifctl info inside the namespace failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as InfoNetworks;
  };

  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; ${JSON.stringify(await systemd.show('ActiveState', 'Result', 'NRestarts'))}`);
      await sleep(200);
    }
  }

  before(async function () {
    await requirePrerequisites(this, ['root', 'ovs', 'libvirt', 'systemd']);
    if (!existsSync(UNIT)) throw new Error(`${UNIT} is not installed (make test installs the package; make test-e2e runs make install)`);
    if (existsSync(CONFIG)) throw new Error(`${CONFIG} exists: an operator's config; this test writes its own there and will not replace it`);
    for (const dir of [CONFIG_DIR, STATE_DIR]) if (!existsSync(dir)) made.push(dir);
    mkdirSync(CONFIG_DIR, { recursive: true, mode: 0o755 });
    lab.defer(`${CONFIG} and what the unit made`, () => {
      rmSync(CONFIG, { force: true });
      for (const dir of made) if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
      return Promise.resolve();
    });
    bridge = await lab.bridge();
    config({ uplink: bridge });
    systemd = await PrivateSystemd.start(lab.scratchPath('systemd'), UNIT);
    lab.defer('the private systemd', () => systemd.stop());
  });

  after(() => lab.cleanup());

  it('starts as Type=notify: active once the control socket serves, sandboxed, with OVSDB and libvirt reached', async () => {
    await systemd.mustSucceed('start', 'vifd.service');
    const shown = await systemd.show('ActiveState', 'SubState', 'Type', 'NRestarts', 'WatchdogUSec', 'ProtectSystem', 'CapabilityBoundingSet');
    assert.equal(shown.ActiveState, 'active');
    assert.equal(shown.SubState, 'running');
    assert.equal(shown.Type, 'notify');
    assert.equal(shown.NRestarts, '0');
    assert.equal(shown.WatchdogUSec, '30s');
    assert.equal(shown.ProtectSystem, 'strict');
    assert.equal(shown.CapabilityBoundingSet, 'cap_net_admin');
    await until('both services reached', async () => {
      const now = await info();
      return now.libvirt.state === 'connected' && now.ovsdb.state === 'connected';
    });
    assert.deepEqual((await info()).networks.map((network) => [network.name, network.bridge, network.bridgeExists]), [['uplink', bridge, true]]);
    const environment = await systemd.mainEnvironment();
    assert.equal(environment.get('WATCHDOG_USEC'), '30000000');
  });

  it('reloads on ExecReload: a changed config is applied, an invalid one refused and the old kept', async () => {
    config({ uplink: bridge, second: bridge });
    const { MainPID: before } = await systemd.show('MainPID');
    await systemd.mustSucceed('reload', 'vifd.service');
    await until('the second network applied', async () => (await info()).networks.length === 2);
    writeFileSync(CONFIG, 'networks: [\n', { mode: 0o600 });
    await systemd.mustSucceed('reload', 'vifd.service');
    await sleep(1500);
    const shown = await systemd.show('ActiveState', 'MainPID', 'NRestarts');
    assert.deepEqual([shown.ActiveState, shown.MainPID, shown.NRestarts], ['active', before, '0']);
    assert.deepEqual((await info()).networks.map((network) => network.name).sort(), ['second', 'uplink']);
  });

  it('is restarted by the watchdog when its pings stop (WatchdogSec=4s drop-in, SIGSTOP)', async () => {
    config({ uplink: bridge });
    await systemd.dropIn('watchdog.conf', '[Service]\nWatchdogSec=4s\n');
    await systemd.mustSucceed('restart', 'vifd.service');
    const first = await systemd.show('WatchdogTimestampMonotonic', 'MainPID', 'NRestarts');
    await sleep(3000); // pings every WatchdogSec/2
    const later = await systemd.show('WatchdogTimestampMonotonic');
    assert.ok(Number(later.WatchdogTimestampMonotonic) > Number(first.WatchdogTimestampMonotonic), 'no WATCHDOG=1 ping within 3 s');
    await systemd.exec(['kill', '-STOP', first.MainPID ?? '']);
    await until('restarted by the watchdog', async () => {
      const now = await systemd.show('NRestarts', 'ActiveState', 'MainPID');
      return now.NRestarts === String(Number(first.NRestarts) + 1) && now.ActiveState === 'active' && now.MainPID !== first.MainPID;
    });
    assert.equal((await info()).networks.length, 1);
  });

  it('fails once with status 78 on a config error instead of restarting in a loop (RestartPreventExitStatus=78)', async () => {
    writeFileSync(CONFIG, 'networks:\n  broken:\n    bridge: ""\n    vlan: 5000\n', { mode: 0o600 });
    const restart = await systemd.systemctl('restart', 'vifd.service');
    assert.notEqual(restart.code, 0, 'systemctl restart succeeded on an invalid config');
    await sleep(5000); // RestartSec=2s: a loop would have restarted it by now
    const shown = await systemd.show('ActiveState', 'ExecMainStatus', 'NRestarts', 'Result');
    assert.deepEqual([shown.ActiveState, shown.ExecMainStatus, shown.Result], ['failed', '78', 'exit-code']);
    // A manual restart starts the count afresh: any automatic restart since shows here.
    assert.equal(shown.NRestarts, '0');
  });

  it('stop removes /run/vifd (RuntimeDirectoryPreserve=restart)', async () => {
    config({ uplink: bridge });
    await systemd.systemctl('reset-failed', 'vifd.service');
    await systemd.mustSucceed('start', 'vifd.service');
    assert.equal((await systemd.exec(['test', '-S', '/run/vifd/vifd.sock'])).code, 0, 'no control socket while running');
    await systemd.mustSucceed('stop', 'vifd.service');
    assert.equal((await systemd.exec(['test', '-e', '/run/vifd'])).code, 1, '/run/vifd is left after stop');
  });
});
