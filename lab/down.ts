// `lab.js down`: removes everything `up` made, found by its fixed names, then
// vifd's installation, and checks that nothing of it is left. Each step runs
// even when an earlier one failed; "already gone" is never a failure.
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { run } from '../test/harness/exec.js';
import { configOwner, removeLabConfig } from './config.js';
import { daemonAnswers, labDaemonRunning, stopDaemon, stopLabDaemon } from './daemon.js';
import { deleteLink, linkExists, netnsExists } from '../test/harness/net.js';
import { removeBridge, removePort, removeProbe } from './host.js';
import { quote, say, waitUntil } from './output.js';
import { ALL_VMS, BRIDGE, CONFIG_PATH, CONTROL_SOCKET, INSTALL_SCRIPT, LOG_PATH, PID_PATH, PROBES, STATE_DIR, labDevices } from './topology.js';
import { labDomainsLeft, removeVm } from './vms.js';

const TAP_REMOVAL_TIMEOUT_MS = 20_000;
const INSTALLED = ['/etc/libvirt/hooks/qemu.d/vifd', '/usr/local/lib/vifd', '/usr/local/bin/vifd', '/usr/local/bin/vifctl',
  '/etc/systemd/system/vifd.service'];

async function removeVms(): Promise<void> {
  const removed: string[] = [];
  for (const vm of ALL_VMS) if (await removeVm(vm)) removed.push(vm.name);
  say(removed.length === 0 ? 'no lab VM was defined' : `destroyed and undefined ${removed.join(', ')}`);
}

async function presentDevices(): Promise<string[]> {
  const found: string[] = [];
  for (const device of labDevices()) if (await linkExists(device)) found.push(device);
  return found;
}

/** vifd removes a VM's TAPs when it stops; only what it left is deleted here. */
async function removeTaps(before: readonly string[]): Promise<void> {
  if ((await presentDevices()).length > 0 && (await daemonAnswers())) {
    await waitUntil(async () => (await presentDevices()).length === 0, TAP_REMOVAL_TIMEOUT_MS, 300);
  }
  const left = await presentDevices();
  for (const device of labDevices()) await removePort(device);
  for (const device of left) await deleteLink(device);
  const byVifd = before.filter((device) => !left.includes(device));
  const leftNote = left.length > 0 ? `; ${left.length} left over, deleted here (${left.join(' ')})` : '';
  say(before.length === 0 && left.length === 0 ? 'TAPs: none of the lab\'s existed'
    : `TAPs: ${byVifd.length} of ${before.length} removed by vifd as their VMs stopped${leftNote}`);
}

async function removeNetwork(): Promise<void> {
  const namespaces = PROBES.filter((probe) => netnsExists(probe.netns)).map((probe) => probe.netns);
  for (const probe of PROBES) await removeProbe(probe);
  const removed = [...namespaces.map((name) => `namespace ${name}`), ...((await removeBridge()) ? [`bridge ${BRIDGE}`] : [])];
  say(removed.length === 0 ? 'probe namespaces and bridge already gone' : `removed ${removed.join(', ')} (with the probes' veths)`);
}

async function removeFiles(): Promise<void> {
  // With an operator's config here, the installed vifd and its unit are theirs
  // (make lab refused to run): stopping or uninstalling them would cut every
  // VM's hook. The lab's own detached daemon, if any, is still stopped.
  const operators = configOwner() === 'operator';
  say(operators ? (await stopLabDaemon()) ?? 'no vifd started by the lab was running' : await stopDaemon());
  say(removeLabConfig());
  const present = [STATE_DIR, LOG_PATH, PID_PATH].filter((path) => existsSync(path));
  for (const path of present) rmSync(path, { recursive: true, force: true });
  say(present.length === 0 ? `${STATE_DIR} and ${LOG_PATH} already gone` : `removed ${present.join(', ')}`);
  if (operators) {
    say(`kept vifd's installation: ${CONFIG_PATH} is an operator's config, so this vifd is not the lab's (make uninstall removes it)`);
    return;
  }
  quote(await run([INSTALL_SCRIPT, '--uninstall'], { timeoutMs: 120_000 }));
  // Left by the config and by a vifd run without systemd (whose unit would
  // remove /run/vifd); anything still inside belongs to someone else.
  for (const dir of [dirname(CONFIG_PATH), dirname(CONTROL_SOCKET)]) removeIfEmpty(dir);
}

function removeIfEmpty(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
}

const lines = (text: string): string[] => text.split('\n').map((line) => line.trim()).filter((line) => line !== '');

/** What of the lab is still there, as "kind name" strings; empty when all is gone. */
async function leftovers(): Promise<{ left: string[]; checked: string[] }> {
  const devices = labDevices();
  const veths = PROBES.map((probe) => probe.hostEnd);
  const left: string[] = [];
  left.push(...(await labDomainsLeft(ALL_VMS.map((vm) => vm.name))).map((name) => `domain ${name}`));
  const netns = lines(await run(['ip', 'netns', 'list'])).map((line) => line.split(' ')[0]);
  left.push(...PROBES.filter((probe) => netns.includes(probe.netns)).map((probe) => `namespace ${probe.netns}`));
  for (const link of [...devices, ...veths]) if (await linkExists(link)) left.push(`link ${link}`);
  const tuns = lines(await run(['ip', '-o', 'link', 'show', 'type', 'tun'])).map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1]);
  left.push(...devices.filter((device) => tuns.includes(device)).map((device) => `TAP ${device}`));
  if (lines(await run(['ovs-vsctl', 'list-br'])).includes(BRIDGE)) left.push(`bridge ${BRIDGE}`);
  const ports = lines(await run(['ovs-vsctl', '--bare', '--columns=name', 'list', 'interface']));
  left.push(...[...devices, ...veths].filter((name) => ports.includes(name)).map((name) => `OVS port ${name}`));
  const operators = configOwner() === 'operator';
  if (await labDaemonRunning(!operators)) left.push('the lab\'s vifd daemon');
  if (configOwner() === 'lab') left.push(`lab config ${CONFIG_PATH}`);
  left.push(...[STATE_DIR, LOG_PATH, PID_PATH, ...(operators ? [] : INSTALLED)].filter((path) => existsSync(path)));
  const checked = [`${ALL_VMS.length} domains`, `${devices.length} TAP names and their OVS ports`,
    `${PROBES.length} namespaces and veths`, `bridge ${BRIDGE}`, 'the vifd daemon', 'the lab config', STATE_DIR, LOG_PATH,
    ...(operators ? [] : ['vifd\'s hook, programs and unit (make install puts them back)'])];
  return { left, checked };
}

export async function down(): Promise<number> {
  const failures: string[] = [];
  // Seen before the VMs go, to tell what vifd removed from what was left over.
  const devicesBefore = await presentDevices();
  const steps: [string, () => Promise<void>][] = [
    ['domains', removeVms], ['TAPs', () => removeTaps(devicesBefore)], ['network', removeNetwork], ['daemon, config and install', removeFiles],
  ];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      say(`could not remove ${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const { left, checked } = await leftovers();
  if (left.length > 0 || failures.length > 0) {
    say(`final check FAILED: still present: ${left.join(', ') || 'nothing'}${failures.length > 0 ? `; failed steps: ${failures.length}` : ''}`);
    return 1;
  }
  say(`final check: verified gone: ${checked.join('; ')}`);
  return 0;
}
