// The ping matrix: from each probe to each VM address. Everything is in one
// subnet, so the only thing that can stop a ping across VLANs is OVS keeping
// the VLANs apart; a ping within a VLAN must get through.
import { tryRun } from '../test/harness/exec.js';
import { formatTable } from '../src/cli/table.js';
import { PROBES, SUBNET, VLAN_OF, VMS } from './topology.js';
import type { NetworkName, ProbeSpec } from './topology.js';

// Each try is `ping -c 2 -W 1`; more tries only give a leak more chances to
// show, and absorb the first packets lost to ARP and MAC learning.
const TRIES = 3;

interface Target {
  readonly label: string;
  readonly address: string;
  readonly network: NetworkName;
}

const targets = (): Target[] => VMS.flatMap((vm) => vm.nics.map((nic) => ({
  label: `${vm.name.replace(/^vifdlab-/, '')} ${nic.address} (${nic.network})`, address: nic.address, network: nic.network,
})));

async function reaches(probe: ProbeSpec, address: string): Promise<boolean> {
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const result = await tryRun(['ip', 'netns', 'exec', probe.netns, 'ping', '-n', '-q', '-c', '2', '-W', '1', address], { timeoutMs: 15_000 });
    if (result.code === 0) return true;
  }
  return false;
}

function cell(expected: boolean, seen: boolean): string {
  const word = (reach: boolean): string => (reach ? 'reach' : 'blocked');
  return expected === seen ? `ok ${word(seen)}` : `MISMATCH expected ${word(expected)}, seen ${word(seen)}`;
}

/** Prints the matrix; returns the number of cells that differ from what is expected. */
export async function pingMatrix(): Promise<number> {
  const columns = targets();
  const rows = await Promise.all(PROBES.map(async (probe) => {
    // Same subnet throughout, so "expected to reach" is just "same VLAN".
    const seen = await Promise.all(columns.map((target) => reaches(probe, target.address)));
    return { probe, cells: columns.map((target, index) => ({ expected: target.network === probe.network, seen: seen[index] === true })) };
  }));
  const mismatches = rows.flatMap((row) => row.cells).filter((entry) => entry.expected !== entry.seen).length;
  process.stdout.write(`\nping matrix: from each probe namespace to each VM address, all in ${SUBNET}; ` +
    `expected: reach on the same VLAN, blocked across VLANs\n`);
  process.stdout.write(`${formatTable([
    ['FROM \\ TO', ...columns.map((target) => target.label)],
    ...rows.map((row) => [`${row.probe.label} ${row.probe.address} (vlan ${VLAN_OF[row.probe.network]})`,
      ...row.cells.map((entry) => cell(entry.expected, entry.seen))]),
  ])}\n\n`);
  return mismatches;
}
