// Open vSwitch through ovs-vsctl, for tests only (vifd itself speaks OVSDB).
import { existsSync } from 'node:fs';
import { run, tryRun } from './exec.js';

const VSCTL = ['ovs-vsctl', '--timeout=30'];

/** The kernel datapath when the module is there, else OVS's userspace one. */
export function datapathType(): 'system' | 'netdev' {
  return existsSync('/sys/module/openvswitch') ? 'system' : 'netdev';
}

export async function createBridge(name: string): Promise<void> {
  await run([...VSCTL, 'add-br', name, '--', 'set', 'bridge', name, `datapath_type=${datapathType()}`]);
}

export const deleteBridge = async (name: string): Promise<void> => {
  await run([...VSCTL, '--if-exists', 'del-br', name]);
};

export interface PortVlan {
  readonly tag?: number;
  readonly trunks?: readonly number[];
}

function vlanSettings(port: string, vlan: PortVlan): string[] {
  const settings: string[] = [];
  if (vlan.tag !== undefined) settings.push(`tag=${vlan.tag}`);
  if (vlan.trunks !== undefined) settings.push(`trunks=[${vlan.trunks.join(',')}]`);
  return settings.length === 0 ? [] : ['--', 'set', 'port', port, ...settings];
}

export async function addPort(bridge: string, port: string, vlan: PortVlan = {}): Promise<void> {
  await run([...VSCTL, 'add-port', bridge, port, ...vlanSettings(port, vlan)]);
}

/** Moves a port to another access VLAN (clears the old tag first). */
export async function setPortTag(port: string, tag: number): Promise<void> {
  await run([...VSCTL, 'set', 'port', port, `tag=${tag}`]);
}

export async function listBridges(): Promise<string[]> {
  return (await run([...VSCTL, 'list-br'])).split('\n').filter((line) => line !== '');
}

export async function bridgeExists(name: string): Promise<boolean> {
  return (await tryRun([...VSCTL, 'br-exists', name])).code === 0;
}

export async function portsOf(bridge: string): Promise<string[]> {
  return (await run([...VSCTL, 'list-ports', bridge])).split('\n').filter((line) => line !== '');
}
