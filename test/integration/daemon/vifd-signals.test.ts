// The vifd process under a stand-in for systemd: NOTIFY_SOCKET bound by the
// test, WATCHDOG_USEC set, and signals. vifd is kept in its start-up wait (its
// ovsdb socket does not exist), which is when a boot is most likely to send
// it SIGHUP: it pings the watchdog, survives SIGHUP, reloads the file
// (RELOADING=1, then READY=1), and refuses an invalid one keeping the old.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotifySocket } from './notify-socket.js';

const VIFD = new URL('../../../src/cli/vifd.js', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0); });
    });
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('integration: vifd under a notify socket, watchdog and SIGHUP', function () {
  this.timeout(60_000);
  let dir: string;
  let notify: NotifySocket;
  let child: ChildProcess | null = null;
  let log = '';
  const datagrams: string[] = [];
  const collect = (): string[] => { datagrams.push(...notify.drain()); return datagrams; };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vifd-test-signals-'));
    notify = new NotifySocket(join(dir, 'notify.sock'));
  });
  after(() => {
    child?.kill('SIGKILL');
    notify.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pings, reloads on SIGHUP, refuses a broken file and stays up', async () => {
    const config = join(dir, 'vifd.yaml');
    // Nothing of the host: no ovsdb-server, libvirt's in-process test driver, a free metrics port.
    const base = `ovsdb: { socket: ${join(dir, 'no-ovsdb.sock')} }\nlibvirt: { uri: "test:///default" }\n` +
      `metrics: { listen: "127.0.0.1:${await freePort()}" }\ncontrol_socket: ${join(dir, 'ctl.sock')}\nnetworks: { prod: { bridge: br-prod } }\n`;
    writeFileSync(config, base);
    // Plain log lines (no journald priority prefix), whatever runs the tests.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'JOURNAL_STREAM'));
    child = spawn(process.execPath, [VIFD, '--config', config], {
      env: { ...env, NOTIFY_SOCKET: notify.name, WATCHDOG_USEC: '400000' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { log += chunk; });
    let exited = false;
    child.on('exit', () => { exited = true; });
    await until('start-up to wait for ovsdb-server', () => log.includes('waiting for ovsdb-server'));
    await until('two watchdog pings', () => collect().filter((text) => text === 'WATCHDOG=1').length >= 2);

    writeFileSync(config, `${base.replace('networks: { prod: { bridge: br-prod } }', 'networks: { prod: { bridge: br-prod, vlan: 5 }, web: { bridge: br-web } }')}log: { level: debug }\n`);
    datagrams.length = 0;
    child.kill('SIGHUP');
    await until('the reload to be logged', () => log.includes('reload: '));
    assert.match(log, /reload: applied \S+vifd\.yaml: networks added: web; networks changed: prod \(vlan\); settings changed: log\.level/);
    await until('READY=1 after the reload', () => collect().includes('READY=1'));
    const reloading = datagrams.findIndex((text) => text.startsWith('RELOADING=1\nMONOTONIC_USEC='));
    assert.ok(reloading >= 0 && reloading < datagrams.indexOf('READY=1'), JSON.stringify(datagrams));

    writeFileSync(config, 'hypervisor: hv\nnetworks: { a: { vlan: 0 } }\n');
    child.kill('SIGHUP');
    await until('the refusal', () => log.includes('reload refused: kept the running config'));
    assert.match(log, /reload refused: \S+vifd\.yaml: hypervisor: "hv" is not one of kvm, xen/);
    assert.match(log, /reload refused: \S+vifd\.yaml: networks\.a\.vlan: 0 is outside 1-4094/);
    assert.match(log, /reload refused: \S+vifd\.yaml: networks\.a\.bridge: is required/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(exited, false, `vifd exited:\n${log}`);
    child.kill('SIGKILL');
  });
});
