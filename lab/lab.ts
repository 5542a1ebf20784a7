#!/usr/bin/env node
// `make lab` / `make lab-down`: vifd's demo on one machine. `up` writes the
// lab config, runs vifd as a daemon, builds a bridge with a probe namespace
// per VLAN, boots VMs whose VIFs vifd owns, shows one refused for asking too
// many, and proves the VLANs with a ping matrix. `down` removes all of it.
// Run from the repository after `make install` (make lab does both).
import { CommandError, run } from '../test/harness/exec.js';
import { writeLabConfig } from './config.js';
import { startDaemon } from './daemon.js';
import { down } from './down.js';
import { createProbes, ensureBridge } from './host.js';
import { pingMatrix } from './matrix.js';
import { LabError, quote, say } from './output.js';
import { VIFCTL_BIN, VMS } from './topology.js';
import { showRefusal, startVms } from './vms.js';

async function up(): Promise<number> {
  try {
    writeLabConfig();
  } catch (error) {
    if (!(error instanceof LabError)) throw error;
    say(`refused: ${error.message}`);
    say('nothing was changed');
    return 1;
  }
  await startDaemon();
  await ensureBridge();
  await createProbes();
  await startVms(VMS);
  await showRefusal();
  process.stdout.write('\nVIFs (vifctl status):\n');
  quote(await run([VIFCTL_BIN, 'status']), '');
  const mismatches = await pingMatrix();
  if (mismatches > 0) say(`${mismatches} cell(s) of the ping matrix differ from what VLAN isolation predicts`);
  else say('every cell as expected: reach within each VLAN, blocked across VLANs');
  say('the lab stays up; tear it down with: make lab-down');
  return mismatches > 0 ? 1 : 0;
}

async function main(command: string | undefined): Promise<number> {
  if (command !== 'up' && command !== 'down') {
    process.stderr.write('usage: node dist/lab/lab.js up|down   (make lab / make lab-down)\n');
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(`lab: make lab${command === 'down' ? '-down' : ''} needs root (OVS, namespaces, libvirt)\n`);
    return 1;
  }
  if (command === 'down') return down();
  try {
    return await up();
  } catch (error) {
    if (!(error instanceof LabError || error instanceof CommandError)) throw error;
    say(`error: ${error.message}`);
    say('what was made so far stays for inspection; make lab-down removes it');
    return 1;
  }
}

main(process.argv[2]).then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`lab: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
