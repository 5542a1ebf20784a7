// The lab's switch: one OVS bridge, and per VLAN a probe namespace plugged
// into it through a veth as an access port, from which the matrix pings.
import { run, tryRun } from '../test/harness/exec.js';
import { deleteLink, deleteNetns } from '../test/harness/net.js';
import { datapathType } from '../test/harness/ovs.js';
import { BRIDGE, PROBES, VLAN_OF } from './topology.js';
import type { ProbeSpec } from './topology.js';
import { say } from './output.js';

const VSCTL = ['ovs-vsctl', '--timeout=30'];

export async function ensureBridge(): Promise<void> {
  // Kept when it exists: the running VMs' ports are on it.
  await run([...VSCTL, '--may-exist', 'add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, `datapath_type=${datapathType()}`]);
  say(`OVS bridge ${BRIDGE} (datapath ${datapathType()})`);
}

export async function removeProbe(probe: ProbeSpec): Promise<void> {
  await run([...VSCTL, '--if-exists', 'del-port', probe.hostEnd]);
  // Deleting the namespace deletes the inner end, and with it the pair.
  await deleteNetns(probe.netns);
  await deleteLink(probe.hostEnd);
}

/** Made afresh each time: cheaper to reason about than repairing a half-made one. */
async function createProbe(probe: ProbeSpec): Promise<void> {
  await removeProbe(probe);
  await run(['ip', 'netns', 'add', probe.netns]);
  await run(['ip', '-n', probe.netns, 'link', 'set', 'dev', 'lo', 'up']);
  await run(['ip', 'link', 'add', 'dev', probe.hostEnd, 'type', 'veth', 'peer', 'name', probe.innerEnd, 'netns', probe.netns]);
  await run(['ip', '-n', probe.netns, 'addr', 'add', `${probe.address}/24`, 'dev', probe.innerEnd]);
  await run(['ip', '-n', probe.netns, 'link', 'set', 'dev', probe.innerEnd, 'up']);
  await run(['ip', 'link', 'set', 'dev', probe.hostEnd, 'up']);
  await run([...VSCTL, 'add-port', BRIDGE, probe.hostEnd, '--', 'set', 'port', probe.hostEnd, `tag=${VLAN_OF[probe.network]}`]);
  say(`probe ${probe.label}: namespace ${probe.netns}, ${probe.address}/24, veth ${probe.hostEnd} on ${BRIDGE} as access port, VLAN ${VLAN_OF[probe.network]}`);
}

export async function createProbes(): Promise<void> {
  for (const probe of PROBES) await createProbe(probe);
}

/** Returns whether the bridge was there. */
export async function removeBridge(): Promise<boolean> {
  const existed = (await tryRun([...VSCTL, 'br-exists', BRIDGE])).code === 0;
  await run([...VSCTL, '--if-exists', 'del-br', BRIDGE]);
  return existed;
}

export async function removePort(name: string): Promise<void> {
  await run([...VSCTL, '--if-exists', 'del-port', name]);
}
